"""The web chat page (Gradio), mounted at /ui by assistant.main: streamed answers with a collapsible source list.

It talks to the facade in-process through `get_assistant`, the same object the API uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr

from assistant.engine.events import (
    ClassificationEvent,
    DoneEvent,
    ErrorEvent,
    HandoffEvent,
    SourcesEvent,
    TokenEvent,
)


def format_sources(sources: list[Any]) -> str:
    if not sources:
        return ""
    rows = "\n".join(
        f"<li><b>[{s.index}] {s.title}</b> <small>({s.doc_id}, score {s.score:.2f})</small><br>{s.snippet[:200]}…</li>"
        for s in sources
    )
    return f"<details><summary>Sources ({len(sources)})</summary><ol>{rows}</ol></details>"


def build_chat_ui(get_assistant: Callable[[], Any], title: str = "Support chat") -> gr.Blocks:
    async def respond(message: str, history: list[dict[str, Any]], conversation_id: str | None
                      ) -> AsyncIterator[tuple[list[dict[str, Any]], str | None, str, str]]:
        assistant = get_assistant()
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        if assistant is None:
            history[-1]["content"] = "The assistant is still starting; please try again in a few seconds."
            yield history, conversation_id, "", ""
            return
        answer, sources_html, meta = "", "", ""
        try:
            async for event in assistant.stream(message, conversation_id):
                if isinstance(event, ClassificationEvent):
                    conversation_id = conversation_id or event.conversation_id
                    c = event.classification
                    meta = f"intent: {c.intent or 'out of scope'} ({c.confidence:.2f}) · sentiment: {c.sentiment.label}"
                elif isinstance(event, SourcesEvent):
                    sources_html = format_sources(event.sources)
                elif isinstance(event, TokenEvent):
                    answer += event.text
                    history[-1]["content"] = answer
                    yield history, conversation_id, sources_html, meta
                elif isinstance(event, HandoffEvent):
                    meta += f" · handed off ({event.handoff.reason})"
                elif isinstance(event, DoneEvent):
                    conversation_id = event.reply.conversation_id
                    t = event.reply.timings
                    meta += f" · {event.reply.route} · {t.total_ms:.0f} ms"
                elif isinstance(event, ErrorEvent):
                    answer += f"\n\n(error: {event.message})"
        except ValueError as exc:
            answer = f"(error: {exc})"
        history[-1]["content"] = answer
        yield history, conversation_id, sources_html, meta

    with gr.Blocks(title=title) as demo:
        gr.Markdown(f"## {title}")
        chatbot = gr.Chatbot(label="Conversation", height=420)
        meta = gr.Markdown(elem_id="reply-meta")
        sources = gr.HTML(elem_id="reply-sources")
        conversation = gr.State(None)
        with gr.Row():
            box = gr.Textbox(placeholder="Ask a question…", show_label=False, scale=8, elem_id="chat-input")
            send = gr.Button("Send", variant="primary", scale=1)
        for trigger in (box.submit, send.click):
            trigger(respond, [box, chatbot, conversation], [chatbot, conversation, sources, meta]).then(
                lambda: "", None, box
            )
    return demo
