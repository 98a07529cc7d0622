"""The web chat page (Gradio), mounted at /ui by assistant.main: streamed answers with a collapsible source list.

It talks to the facade in-process through `get_assistant`, the same object the API uses. After a handoff the
assistant stays silent and a person answers (POST /v1/conversations/{id}/messages): the page then checks for
their replies once a second (a gr.Timer, on only while a person has the conversation) and shows them under the
agent's name.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr

from assistant.engine.errors import ConversationNotFound
from assistant.engine.events import (
    ClassificationEvent,
    DoneEvent,
    ErrorEvent,
    HandoffEvent,
    SourcesEvent,
    TokenEvent,
)
from ui.sources import sources_html


def format_sources(sources: list[Any]) -> str:
    """The reply's sources, collapsed; titles link to their pages (escaped, http(s) only: ui.sources)."""
    if not sources:
        return ""
    return f"<details><summary>Sources ({len(sources)})</summary>{sources_html(sources)}</details>"


SITE = "default"  # the page chats as the default site, as the facade's stream() does
POLL_S = 1.0


def agent_turn(author: str | None, content: str) -> dict[str, str]:
    """An agent's message as a chat bubble: their name first (bold), then what they wrote."""
    name = (author or "Support team").replace("*", "").replace("_", " ")
    return {"role": "assistant", "content": f"**{name}:** {content}"}


async def agent_replies(assistant: Any, conversation_id: str | None, after: int
                        ) -> tuple[list[dict[str, str]], int, bool]:
    """(the agents' new messages as chat bubbles, the seq to ask after next, whether a person still has it)."""
    if assistant is None or not conversation_id:
        return [], after, False
    try:
        new = await asyncio.to_thread(assistant.conversations.messages_after, conversation_id, SITE, after)
    except ConversationNotFound:
        return [], after, False
    turns = [agent_turn(m.author, m.content) for m in new.messages if m.role == "agent"]
    return turns, new.last_seq, new.status == "handoff"


def build_chat_ui(get_assistant: Callable[[], Any], title: str = "Support chat") -> gr.Blocks:
    async def respond(message: str, history: list[dict[str, Any]], conversation_id: str | None
                      ) -> AsyncIterator[tuple[list[dict[str, Any]], str | None, str, str, Any]]:
        assistant = get_assistant()
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        if assistant is None:
            history[-1]["content"] = "The assistant is still starting; please try again in a few seconds."
            yield history, conversation_id, "", "", gr.Timer(POLL_S, active=False)
            return
        answer, sources_html, meta, route = "", "", "", None
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
                    yield history, conversation_id, sources_html, meta, gr.update()
                elif isinstance(event, HandoffEvent):
                    meta += f" · handed off ({event.handoff.reason})"
                elif isinstance(event, DoneEvent):
                    conversation_id, route = event.reply.conversation_id, event.reply.route
                    t = event.reply.timings
                    meta += f" · {event.reply.route} · {t.total_ms:.0f} ms"
                elif isinstance(event, ErrorEvent):
                    answer += f"\n\n(error: {event.message})"
        except ValueError as exc:
            answer = f"(error: {exc})"
        history[-1]["content"] = answer
        if route == "paused" and not answer:
            history.pop()  # a person has the conversation: the assistant says nothing
        yield history, conversation_id, sources_html, meta, gr.Timer(POLL_S, active=route in ("handoff", "paused"))

    async def poll(history: list[dict[str, Any]], conversation_id: str | None, after: int
                   ) -> tuple[list[dict[str, Any]], int, Any]:
        turns, after, handed_off = await agent_replies(get_assistant(), conversation_id, after)
        return [*history, *turns], after, gr.Timer(POLL_S, active=handed_off)

    with gr.Blocks(title=title) as demo:
        gr.Markdown(f"## {title}")
        chatbot = gr.Chatbot(label="Conversation", height=420)
        meta = gr.Markdown(elem_id="reply-meta")
        sources = gr.HTML(elem_id="reply-sources")
        conversation = gr.State(None)
        seen = gr.State(0)  # the seq of the last message the agent poll has looked at
        timer = gr.Timer(POLL_S, active=False)
        with gr.Row():
            box = gr.Textbox(placeholder="Ask a question…", show_label=False, scale=8, elem_id="chat-input")
            send = gr.Button("Send", variant="primary", scale=1)
        for trigger in (box.submit, send.click):
            trigger(respond, [box, chatbot, conversation], [chatbot, conversation, sources, meta, timer]).then(
                lambda: "", None, box
            )
        timer.tick(poll, [chatbot, conversation, seen], [chatbot, seen, timer], show_progress="hidden")
    return demo
