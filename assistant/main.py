"""App composition: the API server plus the user interfaces mounted on it.

    uvicorn --factory assistant.main:build_app      (or `assistant serve`)

The server layer knows nothing of the UIs; they are attached here, above both.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from fastapi import FastAPI

from assistant.engine.settings import Settings
from assistant.server.app import create_app
from ui.chat import build_chat_ui
from ui.console import mount_console
from ui.widget import mount_widget


def build_app(settings: Settings | None = None, **kwargs: Any) -> FastAPI:
    settings = settings or Settings()
    app = create_app(settings, **kwargs)
    state = app.state.app_state
    chat_ui = build_chat_ui(lambda: state.assistant, title=f"{settings.company} support")
    app = gr.mount_gradio_app(app, chat_ui, path="/ui")
    mount_widget(app, settings)
    return mount_console(app, settings, lambda: state.assistant)
