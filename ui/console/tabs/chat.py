"""Console tab "Chat": talk to the assistant as a customer of a chosen site and see how each reply was made.

Every reply gets a collapsible line in the transcript (intent + confidence, sentiment, route,
template/handoff flags, latency, sources) and the latest one is detailed on the right.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from assistant.engine.events import DoneEvent, Reply, TokenEvent
from ui.console.context import NOT_READY, ConsoleContext, ms
from ui.console.style import badges, notice
from ui.sources import sources_html

NO_SOURCES = "<p>No sources yet.</p>"


def reply_badges(reply: Reply) -> list[tuple[str, str]]:
    items = [(f"intent: {reply.intent} ({reply.confidence:.2f})" if reply.intent else
              f"intent: out of scope ({reply.confidence:.2f})", "")]
    if reply.sentiment is not None:
        tone = reply.sentiment.label if reply.sentiment.label != "neutral" else ""
        items.append((f"sentiment: {reply.sentiment.label} ({reply.sentiment.score:+.2f})", tone))
    items.append((f"route: {reply.route}", ""))
    if reply.template_id:
        items.append((f"template: {reply.template_id}", "flag"))
    if reply.handoff is not None:
        items.append((f"handed off: {reply.handoff.reason}", "flag"))
    if reply.abstained:
        items.append(("abstained", "flag"))
    t = reply.timings
    latency = f"latency: {ms(t.total_ms)}"
    if t.ttft_ms is not None:
        latency += f" (first token {ms(t.ttft_ms)})"
    items.append((latency, ""))
    return items


def reply_note(reply: Reply) -> dict[str, Any]:
    """A collapsed transcript entry under the answer: flags in the title, sources inside."""
    title = " · ".join(text for text, _ in reply_badges(reply))
    if reply.sources:
        body = "\n".join(f"{s.index}. **{s.title}** ({s.doc_id}, score {s.score:.2f})" for s in reply.sources)
    else:
        body = "No knowledge-base sources for this reply."
    return {"role": "assistant", "content": body, "metadata": {"title": title, "status": "done"}}


def sources_frame(reply: Reply | None) -> str:
    """The reply's sources with clickable titles (escaped, http(s) links only, new tab: ui.sources)."""
    if reply is None or not reply.sources:
        return NO_SOURCES
    return sources_html(reply.sources, snippets=False)


def build(ctx: ConsoleContext) -> tuple[gr.Tab, Any]:
    async def respond(message: str, history: list[dict[str, Any]], conversation_id: str | None, site: str
                      ) -> AsyncIterator[tuple[Any, ...]]:
        history = list(history or [])
        message = (message or "").strip()
        if not message:
            yield history, conversation_id, notice("Type a message first.", "warn"), sources_frame(None), ""
            return
        if not ctx.ready:
            yield history, conversation_id, notice(NOT_READY, "warn"), sources_frame(None), message
            return
        assistant = ctx.assistant()
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        answer, reply = "", None
        try:
            async for event in assistant.stream(message, conversation_id, site_id=site or "default"):
                if isinstance(event, TokenEvent):
                    answer += event.text
                    history[-1]["content"] = answer
                    yield history, conversation_id, notice("Answering…"), sources_frame(None), ""
                elif isinstance(event, DoneEvent):
                    reply = event.reply
        except LookupError:
            history = history[:-2]
            yield history, None, notice("That conversation no longer exists; start a new one.", "error"), \
                sources_frame(None), message
            return
        except ValueError as exc:
            history = history[:-2]
            yield history, conversation_id, notice(f"Not sent: {exc}", "error"), sources_frame(None), message
            return
        assert reply is not None
        history[-1]["content"] = reply.answer
        history.append(reply_note(reply))
        yield history, reply.conversation_id, badges(reply_badges(reply)), sources_frame(reply), ""

    def new_conversation() -> tuple[list, None, str, str]:
        return [], None, notice("New conversation: your next message starts it."), sources_frame(None)

    def refresh_sites(current: str) -> Any:
        choices = ctx.sites()
        return gr.update(choices=choices, value=current if current in choices else "default")

    with gr.Tab("Chat", id="chat") as tab:
        gr.Markdown("Talk to the assistant as a customer of the chosen site. Turns are stored like any "
                    "customer's, so they show up in the other tabs.")
        with gr.Row(elem_classes="bar"):
            site = gr.Dropdown(["default"], value="default", label="Customer of site", allow_custom_value=True,
                               scale=3, elem_id="chat-site")
            new = gr.Button("New conversation", scale=0, min_width=180)
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Conversation", height=470, elem_id="console-chat",
                                     feedback_options=None, placeholder="Ask something a customer would ask.")
                with gr.Row(elem_classes="bar"):
                    box = gr.Textbox(placeholder="Write as a customer…", show_label=False, scale=6,
                                     elem_id="console-chat-input")
                    send = gr.Button("Send", variant="primary", scale=0, min_width=100, elem_id="console-chat-send")
            with gr.Column(scale=2):
                gr.Markdown("#### Last reply")
                details = gr.HTML(notice("Send a message to see how the reply was made."), elem_id="chat-details")
                gr.Markdown("#### Its sources")
                sources = gr.HTML(sources_frame(None), elem_id="chat-sources")
        conversation = gr.State(None)
        for trigger in (box.submit, send.click):
            trigger(respond, [box, chatbot, conversation, site], [chatbot, conversation, details, sources, box])
        new.click(new_conversation, None, [chatbot, conversation, details, sources])
        site.input(new_conversation, None, [chatbot, conversation, details, sources])
    return tab, (refresh_sites, [site], [site])
