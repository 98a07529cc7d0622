"""Console tab "Conversations": filterable list, transcript, and the review of replies (good / bad /
corrected answer), with the exports the reviews feed (fine-tuning JSONL, template suggestions YAML)."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine import analytics as an
from assistant.engine.errors import ConversationNotFound, MessageNotFound, ReviewError
from ui.console.context import ConsoleContext, Filters, local_time, short, signed
from ui.console.style import notice

LIST_COLUMNS = ["started", "site", "messages", "intents", "last sentiment", "avg sentiment", "handed off",
                "ending negative", "resolved automatically"]
SUGGESTION_COLUMNS = ["template id", "intent", "customer asked", "suggested answer"]
ANY = "Any"


def _tri(choice: str, yes: str) -> bool | None:
    return None if choice == ANY else choice == yes


class ConversationsTab:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        with gr.Tab("Conversations", id="conversations") as self.tab:
            with gr.Row():
                self.handoff = gr.Radio([ANY, "Handed off", "Not handed off"], value=ANY, label="Handoff", scale=2)
                self.negative = gr.Radio([ANY, "Ending negative", "Not negative"], value=ANY, label="Sentiment",
                                         scale=2)
                self.intent = gr.Dropdown([""], value="", label="Intent", allow_custom_value=True, scale=2,
                                          elem_id="conv-intent")
                self.day = gr.Textbox(label="Started on (YYYY-MM-DD)", placeholder="any day", scale=1,
                                      elem_id="conv-day")
            self.listing = gr.Dataframe(pd.DataFrame(columns=LIST_COLUMNS), interactive=False, wrap=True,
                                        label="Conversations (select one to open it)", elem_id="conversation-list",
                                        max_height=300)
            self.list_status = gr.HTML()
            self.ids = gr.State([])
            self.current = gr.State(None)
            with gr.Row():
                with gr.Column(scale=3):
                    self.transcript = gr.Chatbot(label="Transcript", height=420, elem_id="transcript",
                                                 feedback_options=None, placeholder="Select a conversation above.")
                with gr.Column(scale=2):
                    gr.Markdown("#### Review a reply")
                    self.reply = gr.Dropdown([], label="Assistant reply", elem_id="review-reply")
                    with gr.Row():
                        self.good = gr.Button("Mark good", elem_id="rate-good")
                        self.bad = gr.Button("Mark bad", elem_id="rate-bad")
                    self.correction = gr.Textbox(label="Corrected answer", lines=4, elem_id="correction",
                                                 placeholder="What the assistant should have said.")
                    self.save = gr.Button("Save correction", variant="primary", elem_id="save-correction")
                    self.review_status = gr.HTML(elem_id="review-status")
            with gr.Accordion("Where reviews go: template suggestions and fine-tuning data", open=False,
                              elem_id="review-exports"):
                gr.Markdown("Corrected answers become **template suggestions** for the intent of the question, and "
                            "rows of the **fine-tuning export** (OpenAI chat JSONL tagged `\"source\": \"review\"`; "
                            "thumbs-up answers are included too). Train on it with "
                            "`assistant finetune prepare <file>`.")
                self.suggestions = gr.Dataframe(pd.DataFrame(columns=SUGGESTION_COLUMNS), interactive=False,
                                                wrap=True, label="Template suggestions", elem_id="suggestions")
                with gr.Row():
                    self.export_jsonl = gr.Button("Export fine-tuning data (JSONL)", elem_id="export-jsonl")
                    self.export_yaml = gr.Button("Export template suggestions (YAML)", elem_id="export-yaml")
                self.export_file = gr.File(label="Download", interactive=False, elem_id="review-download")
                self.export_status = gr.HTML(elem_id="export-status")

    @property
    def filter_inputs(self) -> list[gr.components.Component]:
        return [self.handoff, self.negative, self.intent, self.day]

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.listing, self.ids, self.list_status, self.intent, self.suggestions]

    def render(self, df: pd.DataFrame, f: Filters, handoff: str = ANY, negative: str = ANY, intent: str = "",
               day: str = "") -> list[Any]:
        summary = an.conversation_summary(df)
        intents = sorted({name for names in summary["intents"] for name in str(names).split(", ") if name})
        status = ""
        try:
            shown = an.filter_conversations(summary, handoff=_tri(handoff, "Handed off"),
                                            negative=_tri(negative, "Ending negative"), intent=intent or None,
                                            day=(day or "").strip() or None, tz=f.tz)
        except ValueError as exc:
            shown, status = summary.iloc[0:0], notice(str(exc), "error")
        table = pd.DataFrame({
            "started": [local_time(t, f.tz) for t in shown["started"]], "site": shown["site_id"],
            "messages": shown["messages"], "intents": shown["intents"], "last sentiment": shown["last_sentiment"],
            "avg sentiment": [signed(v) for v in shown["average_sentiment"]],
            "handed off": shown["handed_off"].map({True: "yes", False: "no"}),
            "ending negative": shown["ending_negative"].map({True: "yes", False: "no"}),
            "resolved automatically": shown["resolved_automatically"].map({True: "yes", False: "no"}),
        }, columns=LIST_COLUMNS)
        if not status:
            status = notice(f"{len(shown)} of {len(summary)} conversations match.", "info")
        return [table, shown["conversation_id"].tolist(), status, gr.update(choices=["", *intents]),
                self.suggestions_frame()]

    def suggestions_frame(self) -> pd.DataFrame:
        rows = [(s.template_id, s.intent, short(s.question, 80), short(s.text, 160))
                for s in self.ctx.conversations.template_suggestions()]
        return pd.DataFrame(rows, columns=SUGGESTION_COLUMNS)

    # -- transcript and review -----------------------------------------------------------------
    def transcript_of(self, conversation_id: str, selected: str | None = None) -> tuple[Any, ...]:
        conversations = self.ctx.conversations
        try:
            conv = conversations.get(conversation_id)
        except ConversationNotFound:
            return [], gr.update(choices=[], value=None), notice("That conversation was deleted.", "error")
        reviews = conversations.feedback(conversation_id)
        history, replies = [], []
        language = None  # of the customer's message a reply answers
        for m in conv.messages:
            if m.role == "user":
                history.append({"role": "user", "content": m.content})
                language = m.language
                continue
            if m.role == "agent":  # a person's reply after the handoff: not the assistant's, not reviewed
                history.append({"role": "assistant", "content": f"**{m.author or 'Agent'} (agent):** {m.content}"})
                continue
            if m.route == "paused" and not m.content:
                continue  # the assistant stayed silent while a person had the conversation
            history.append({"role": "assistant", "content": m.content})
            review = reviews.get(m.id)
            flags = [f"#{len(replies) + 1}", f"intent {m.intent or 'out of scope'}", m.route or "",
                     f"{(m.timings or {}).get('total_ms', 0):.0f} ms"]
            if language and language not in ("en", "unknown"):
                flags.append(f"customer wrote in {language}")
            if m.handoff_reason:
                flags.append(f"handed off: {m.handoff_reason}")
            if review and review.rating:
                flags.append("rated good" if review.rating == "up" else "rated bad")
            if review and review.correction:
                flags.append("corrected")
            body = f"**Corrected answer:** {review.correction}" if review and review.correction else "Not corrected."
            history.append({"role": "assistant", "content": body,
                            "metadata": {"title": " · ".join(x for x in flags if x), "status": "done"}})
            replies.append((f"#{len(replies) + 1} · {short(m.content, 60)}", m.id))
        value = selected if selected in {v for _, v in replies} else (replies[0][1] if replies else None)
        return history, gr.update(choices=replies, value=value), ""

    def on_select(self, ids: list[str], evt: gr.SelectData) -> tuple[Any, ...]:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if row is None or row >= len(ids):
            return None, [], gr.update(choices=[], value=None), ""
        return (ids[row], *self.transcript_of(ids[row]))

    def on_review(self, conversation_id: str | None, message_id: str | None, rating: str | None,
                  correction: str | None) -> tuple[Any, ...]:
        if not conversation_id or not message_id:
            return gr.update(), gr.update(), notice("Open a conversation and pick a reply first.", "warn"), gr.update()
        try:
            self.ctx.conversations.record_feedback(conversation_id, message_id, rating, correction)  # type: ignore[arg-type]
        except (ReviewError, MessageNotFound, ConversationNotFound) as exc:
            return gr.update(), gr.update(), notice(str(exc) or "That reply no longer exists.", "error"), gr.update()
        history, reply, _ = self.transcript_of(conversation_id, message_id)
        done = "Correction saved: it is now a template suggestion and a fine-tuning row." if correction else \
            f"Marked as {'good' if rating == 'up' else 'bad'}."
        return history, reply, notice(done, "ok"), self.suggestions_frame()

    def on_export(self, kind: str) -> tuple[Any, str]:
        folder = self.ctx.export_dir()
        audit = self.ctx.assistant().audit
        if kind == "jsonl":
            path = folder / "review-finetune.jsonl"
            n = self.ctx.conversations.export_reviewed(path)
            audit.record("*", "operator", "export", "export:review-finetune", {"file": path.name, "rows": n})
            return str(path), notice(f"{n} reviewed turns exported to {path}.", "ok")
        path = folder / "template-suggestions.yaml"
        n = self.ctx.conversations.write_suggestions(path)
        audit.record("*", "operator", "export", "export:template-suggestions", {"file": path.name, "rows": n})
        return str(path), notice(f"{n} template suggestions exported to {path}.", "ok")

    def wire(self, load_list: Any) -> None:
        """`load_list` = (fn, inputs, outputs) reloading the list with the global and local filters."""
        fn, inputs, outputs = load_list
        for box in (self.handoff, self.negative, self.intent):
            box.input(fn, inputs, outputs)
        self.day.submit(fn, inputs, outputs)
        self.day.blur(fn, inputs, outputs)
        self.listing.select(self.on_select, self.ids, [self.current, self.transcript, self.reply,
                                                       self.review_status])
        review_out = [self.transcript, self.reply, self.review_status, self.suggestions]
        self.good.click(lambda c, m: self.on_review(c, m, "up", None), [self.current, self.reply], review_out)
        self.bad.click(lambda c, m: self.on_review(c, m, "down", None), [self.current, self.reply], review_out)
        self.save.click(lambda c, m, t: self.on_review(c, m, None, t if (t or "").strip() else " "),
                        [self.current, self.reply, self.correction], review_out)
        self.export_jsonl.click(lambda: self.on_export("jsonl"), None, [self.export_file, self.export_status])
        self.export_yaml.click(lambda: self.on_export("yaml"), None, [self.export_file, self.export_status])
