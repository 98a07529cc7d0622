"""The operator console (Gradio Blocks), mounted at /console by assistant.main behind an operator login.

    mount_console(app, settings, lambda: state.assistant)

Tabs: Chat, Sentiment, Intents, Templates, Conversations, Inbox (handed-off conversations), Unanswered, Knowledge base, KPIs, Audit log. The dashboards share one
filter bar (site, period, hour/day buckets, time zone) and one query per refresh. Mounting also
starts the negative-surge monitor with the server (see assistant.engine.alerts).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import gradio as gr
from fastapi import FastAPI

from assistant.engine.alerts import SurgeMonitor, monitor_when_ready
from assistant.engine.settings import Settings
from ui.console.auth import operator_auth
from ui.console.context import ALL_SITES, COMMON_ZONES, NOT_READY, PERIODS, ConsoleContext, make_filters
from ui.console.style import CSS, THEME, notice
from ui.console.tabs import chat
from ui.console.tabs.audit import AuditTab
from ui.console.tabs.conversations import ConversationsTab
from ui.console.tabs.inbox import InboxTab
from ui.console.tabs.intents import IntentsTab
from ui.console.tabs.knowledge import KnowledgeTab
from ui.console.tabs.kpis import KpisTab
from ui.console.tabs.sentiment import SentimentTab
from ui.console.tabs.templates import TemplatesTab
from ui.console.tabs.unanswered import UnansweredTab

REFRESH_SECONDS = 60.0


def build_console(get_assistant: Callable[[], Any], settings: Settings) -> gr.Blocks:
    ctx = ConsoleContext(get_assistant, settings)
    zone = settings.console.timezone
    with gr.Blocks(title=f"{settings.company} · operator console") as demo:
        with gr.Row(elem_classes="console-header"):
            gr.Markdown(f"## {settings.company} · operator console\n"
                        "Watch sentiment and intents, review answers, and feed corrections back into the assistant.")
        banner = gr.HTML(elem_id="console-banner")
        with gr.Row(elem_classes="bar"):
            site = gr.Dropdown([ALL_SITES], value=ALL_SITES, label="Site", scale=2, elem_id="filter-site")
            period = gr.Radio(list(PERIODS), value="Last 7 days", label="Period", scale=4, elem_id="filter-period")
            bucket = gr.Radio(["hour", "day"], value="hour", label="Buckets", scale=1, elem_id="filter-bucket")
            tz = gr.Dropdown(sorted({zone, *COMMON_ZONES}), value=zone, label="Time zone", allow_custom_value=True,
                             scale=2, elem_id="filter-tz")
            refresh_button = gr.Button("Refresh", scale=0, min_width=100, elem_id="refresh")
        with gr.Tabs():
            chat_tab, (chat_sites, chat_in, chat_out) = chat.build(ctx)
            sentiment = SentimentTab(ctx)
            intents = IntentsTab(ctx)
            templates = TemplatesTab(ctx)
            conversations = ConversationsTab(ctx)
            inbox = InboxTab(ctx)
            unanswered = UnansweredTab(ctx)
            knowledge = KnowledgeTab(ctx)
            kpis = KpisTab(ctx)
            audit = AuditTab(ctx)

        filters = [site, period, bucket, tz]
        local = conversations.filter_inputs
        dash_out = [*sentiment.outputs, *kpis.outputs]
        all_out = [banner, site, *dash_out, *intents.outputs, *conversations.outputs]

        def skip(outputs: list[Any], message: str = NOT_READY) -> list[Any]:
            return [notice(message, "warn"), *[gr.update() for _ in outputs[1:]]]

        def refresh_all(*values: Any) -> list[Any]:
            if not ctx.ready:
                return skip(all_out)
            f = make_filters(*values[:4], fallback_tz=zone)
            df = ctx.frame(f)
            return ["", gr.update(choices=[ALL_SITES, *ctx.sites()]), *sentiment.render(df, f), *kpis.render(df, f),
                    *intents.render(df, f), *conversations.render(df, f, *values[4:])]

        def refresh_dashboards(*values: Any) -> list[Any]:
            if not ctx.ready:
                return skip([banner, *dash_out])
            f = make_filters(*values, fallback_tz=zone)
            df = ctx.frame(f)
            return ["", *sentiment.render(df, f), *kpis.render(df, f)]

        def refresh_list(*values: Any) -> list[Any]:
            f = make_filters(*values[:4], fallback_tz=zone)
            return conversations.render(ctx.frame(f), f, *values[4:])

        def check_surge(*values: Any) -> list[Any]:
            f = make_filters(*values, fallback_tz=zone)
            raised = sentiment.check_now(f)
            df = ctx.frame(f)
            return [raised, *sentiment.render(df, f)[1:], *kpis.render(df, f)]

        def export_kpis(*values: Any) -> tuple[Any, str]:
            return kpis.on_export(make_filters(*values, fallback_tz=zone))

        everything = (refresh_all, [*filters, *local], all_out)
        demo.load(*everything)
        refresh_button.click(*everything)
        for box in filters:
            box.input(*everything)
        for tab in (sentiment.tab, intents.tab, conversations.tab, kpis.tab):
            tab.select(*everything)
        chat_tab.select(chat_sites, chat_in, chat_out)
        gr.Timer(REFRESH_SECONDS).tick(refresh_dashboards, filters, [banner, *dash_out], show_progress="hidden")
        sentiment.check.click(check_surge, filters, dash_out)
        kpis.export.click(export_kpis, filters, [kpis.file, kpis.export_status])
        intents.wire(everything)
        conversations.wire((refresh_list, [*filters, *local], conversations.outputs))
        knowledge.wire()
        templates.wire()  # loads on its own (tab select, Refresh, its site)
        inbox.wire()  # the inbox and the audit log load on their own (tab select, Refresh)
        audit.wire()
        unanswered.wire()  # loads on its own (tab select, Refresh, its site)
    return demo


def mount_console(app: FastAPI, settings: Settings, get_assistant: Callable[[], Any], path: str = "/console"
                  ) -> FastAPI:
    """Mount the console behind the operator login and run the surge monitor for the app's lifetime."""
    console = build_console(get_assistant, settings)
    app = gr.mount_gradio_app(
        app, console, path=path, auth=operator_auth(settings), theme=THEME, css=CSS, show_error=True,
        auth_message=f"{settings.company} operator console: sign in with your operator account.",
        footer_links=[],
    )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            stop = asyncio.Event()

            def monitor() -> SurgeMonitor | None:
                assistant = get_assistant()
                return None if assistant is None else assistant.surge_monitor()

            task = asyncio.create_task(monitor_when_ready(monitor, stop))
            try:
                yield state
            finally:
                stop.set()
                task.cancel()

    app.router.lifespan_context = lifespan
    return app
