"""Console tab "Intents": volume over time, top intents, the review queue of low-confidence and out-of-scope
messages (an operator assigns one to an intent: it becomes an example of its own site's intent, a version), and
each site's intents edited, versioned and retrained (intent_editor.py)."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine import analytics as an
from assistant.engine.errors import MessageNotFound, ReviewError
from assistant.engine.intent_versions import IntentEditError
from assistant.engine.sites import DEFAULT_SITE
from ui.console.context import ConsoleContext, Filters, bucket_labels, local_time, short
from ui.console.style import notice
from ui.console.tabs.intent_editor import IntentEditor, operator

QUEUE_COLUMNS = ["received", "site", "message", "model's guess", "confidence", "why queued"]


class IntentsTab:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        with gr.Tab("Intents", id="intents") as self.tab:
            with gr.Row():
                self.volume = gr.BarPlot(x="bucket", y="count", color="intent", title="Volume by intent",
                                         x_title="", y_title="customer messages", height=300, scale=3, sort="x",
                                         y_lim=[0, None], x_label_angle=-30,
                                         elem_id="intent-volume-plot")
                self.top = gr.BarPlot(x="intent", y="messages", title="Top intents", x_title="",
                                      y_title="customer messages", sort="-y", height=300, scale=2, y_lim=[0, None],
                                      x_label_angle=-35, elem_id="top-intents-plot")
            gr.Markdown(f"#### Review queue\nCustomer messages the model was unsure about (confidence under "
                        f"{an.LOW_CONFIDENCE:.2f}) or judged out of scope. Select one, pick or type an intent, and "
                        "**Assign**: it becomes an example of that intent on the message's own site (a version) "
                        "and leaves the queue.")
            self.queue = gr.Dataframe(pd.DataFrame(columns=QUEUE_COLUMNS), interactive=False, wrap=True,
                                      label="Queue (newest first)", elem_id="review-queue", max_height=320)
            self.queue_ids = gr.State([])
            self.selected = gr.State(None)
            self.selected_site = gr.State(None)
            with gr.Row(elem_classes="bar"):
                self.picked = gr.Textbox(label="Selected message", interactive=False, scale=3,
                                         elem_id="queue-selected")
                self.intent = gr.Dropdown([], label="Intent (pick one, or type a new name)",
                                          allow_custom_value=True, scale=2, elem_id="assign-intent")
                self.assign = gr.Button("Assign", variant="primary", scale=0, min_width=120, elem_id="assign-button")
            self.assign_status = gr.HTML(elem_id="assign-status")
            self.editor = IntentEditor(ctx)

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.volume, self.top, self.queue, self.queue_ids]

    def render(self, df: pd.DataFrame, f: Filters) -> list[Any]:
        volume = an.intent_volume_over_time(df, f.bucket, f.tz)
        volume = volume.assign(bucket=bucket_labels(volume["bucket"], f.bucket))
        queue = an.review_queue(df, an.LOW_CONFIDENCE, self.ctx.conversations.assigned_message_ids())
        shown = pd.DataFrame({
            "received": [local_time(t, f.tz) for t in queue["created_at"]], "site": queue["site_id"],
            "message": [short(t, 120) for t in queue["text"]], "model's guess": queue["guess"],
            "confidence": queue["confidence"].round(2), "why queued": queue["reason"],
        }, columns=QUEUE_COLUMNS)
        return [volume, an.top_intents(df), shown, queue["message_id"].tolist()]

    def intent_choices(self, site: str) -> list[str]:
        """What a message of `site` can be assigned to: the site's intents and the out-of-scope label."""
        try:
            names = {i.intent for i in self.ctx.assistant().intents.overview(site).intents if i.status != "retired"}
        except IntentEditError:
            names = set()
        return sorted(names | {"oos"})

    # -- events ----------------------------------------------------------------------------------
    def on_select(self, ids: list[str], table: pd.DataFrame, evt: gr.SelectData) -> tuple[Any, ...]:
        """[message id, its site, its text, the intent dropdown (the site's intents, the model's guess)]."""
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if row is None or row >= len(ids):
            return None, None, "", gr.update()
        site = str(table.iloc[row]["site"] or DEFAULT_SITE)
        guess = str(table.iloc[row]["model's guess"] or "")
        return ids[row], site, str(table.iloc[row]["message"]), gr.update(choices=self.intent_choices(site),
                                                                         value=guess or None)

    def on_assign(self, message_id: str | None, site: str | None, intent: str | None,
                  request: gr.Request | None = None) -> str:
        """The message leaves the queue and becomes an example of `intent` on its own site (a version, audited)."""
        if not message_id:
            return notice("Select a message in the queue first.", "warn")
        assistant, site = self.ctx.assistant(), site or DEFAULT_SITE
        try:
            assignment = assistant.conversations.assign_intent(message_id, intent or "")
        except (ReviewError, MessageNotFound) as exc:
            return notice(str(exc), "error")
        try:
            overview = assistant.intents.add(site, assignment.intent, assignment.text, actor=operator(request))
        except IntentEditError as exc:  # already an example there: the message still leaves the queue
            return notice(f"Assigned to {assignment.intent!r}; not added as an example: {exc}", "warn")
        return notice(f"Assigned to {assignment.intent!r}: “{short(assignment.text, 80)}” is now an example on site "
                      f"{site} (version {overview.version}). Retrain the site to use it.", "ok")

    def wire(self, refresh: Any) -> None:
        """Connect the tab's buttons; `refresh` = (fn, inputs, outputs) reloading the dashboards."""
        fn, inputs, outputs = refresh
        self.queue.select(self.on_select, [self.queue_ids, self.queue],
                          [self.selected, self.selected_site, self.picked, self.intent])
        self.assign.click(self.on_assign, [self.selected, self.selected_site, self.intent], self.assign_status).then(
            lambda: (None, ""), None, [self.selected, self.picked]).then(fn, inputs, outputs)
        self.editor.wire()
        e = self.editor
        self.tab.select(e.render, e.site, [e.site, e.table, e.intent, e.history, e.retrain_status])
