"""Console tab "Intents": volume over time, top intents, and the review queue of low-confidence and
out-of-scope messages, which an operator assigns to an intent (new or existing) and retrains on."""

from __future__ import annotations

from collections import Counter
from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine import analytics as an
from assistant.engine.errors import DataError, MessageNotFound, ReviewError
from assistant.engine.intent_examples import (
    RetrainRefused,
    base_intents_path,
    merged_examples,
    operator_examples_path,
)
from ui.console.context import ConsoleContext, Filters, bucket_labels, local_time, short
from ui.console.style import badges, notice

QUEUE_COLUMNS = ["received", "site", "message", "model's guess", "confidence", "why queued"]
EXAMPLE_COLUMNS = ["intent", "operator examples", "all examples"]


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
                        f"{an.LOW_CONFIDENCE:.2f}) or judged out of scope. Select one, pick or "
                        "type an intent, and **Assign**: it becomes a training example and leaves the queue.")
            self.queue = gr.Dataframe(pd.DataFrame(columns=QUEUE_COLUMNS), interactive=False, wrap=True,
                                      label="Queue (newest first)", elem_id="review-queue", max_height=320)
            self.queue_ids = gr.State([])
            self.selected = gr.State(None)
            with gr.Row(elem_classes="bar"):
                self.picked = gr.Textbox(label="Selected message", interactive=False, scale=3,
                                         elem_id="queue-selected")
                self.intent = gr.Dropdown([], label="Intent (pick one, or type a new name)",
                                          allow_custom_value=True, scale=2, elem_id="assign-intent")
                self.assign = gr.Button("Assign", variant="primary", scale=0, min_width=120, elem_id="assign-button")
            self.assign_status = gr.HTML(elem_id="assign-status")
            with gr.Row():
                with gr.Column(scale=3):
                    self.examples = gr.Dataframe(pd.DataFrame(columns=EXAMPLE_COLUMNS), interactive=False,
                                                 label="Operator examples per intent", elem_id="operator-examples",
                                                 max_height=240)
                with gr.Column(scale=2):
                    self.retrain = gr.Button("Retrain intent model", variant="secondary", elem_id="retrain-button")
                    self.retrain_status = gr.HTML(elem_id="retrain-status")
                    with gr.Row(elem_classes="bar"):
                        self.probe = gr.Textbox(label="Try the intent model", scale=3, elem_id="probe-input",
                                                placeholder="a customer message")
                        self.probe_go = gr.Button("Classify", scale=0, min_width=100, elem_id="probe-button")
                    self.probe_out = gr.HTML(elem_id="probe-result")

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.volume, self.top, self.queue, self.queue_ids, self.examples, self.intent]

    def render(self, df: pd.DataFrame, f: Filters) -> list[Any]:
        volume = an.intent_volume_over_time(df, f.bucket, f.tz)
        volume = volume.assign(bucket=bucket_labels(volume["bucket"], f.bucket))
        queue = an.review_queue(df, an.LOW_CONFIDENCE, self.ctx.conversations.assigned_message_ids())
        shown = pd.DataFrame({
            "received": [local_time(t, f.tz) for t in queue["created_at"]], "site": queue["site_id"],
            "message": [short(t, 120) for t in queue["text"]], "model's guess": queue["guess"],
            "confidence": queue["confidence"].round(2), "why queued": queue["reason"],
        }, columns=QUEUE_COLUMNS)
        return [volume, an.top_intents(df), shown, queue["message_id"].tolist(), self.examples_frame(),
                gr.update(choices=self.intent_choices())]

    # -- helpers ---------------------------------------------------------------------------------
    def intent_choices(self) -> list[str]:
        names = set(self.ctx.assistant().intent_labels())
        path = operator_examples_path(self.ctx.settings)
        if path.exists():
            names |= set(Counter(self._operator_labels()))
        return sorted(names)

    def _operator_labels(self) -> list[str]:
        import csv

        with operator_examples_path(self.ctx.settings).open(encoding="utf-8", newline="") as handle:
            return [row[1] for row in list(csv.reader(handle))[1:] if len(row) >= 2]

    def examples_frame(self) -> pd.DataFrame:
        if not operator_examples_path(self.ctx.settings).exists():
            return pd.DataFrame(columns=EXAMPLE_COLUMNS)
        operator = Counter(self._operator_labels())
        try:
            everything = merged_examples(base_intents_path(self.ctx.settings),
                                         operator_examples_path(self.ctx.settings)).label_counts
        except DataError:
            everything = operator
        rows = [(name, n, everything.get(name, n)) for name, n in operator.most_common()]
        return pd.DataFrame(rows, columns=EXAMPLE_COLUMNS)

    # -- events ----------------------------------------------------------------------------------
    def on_select(self, ids: list[str], table: pd.DataFrame, evt: gr.SelectData) -> tuple[Any, ...]:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if row is None or row >= len(ids):
            return None, "", gr.update()
        guess = str(table.iloc[row]["model's guess"] or "")
        return ids[row], str(table.iloc[row]["message"]), gr.update(value=guess or None)

    def on_assign(self, message_id: str | None, intent: str | None) -> str:
        if not message_id:
            return notice("Select a message in the queue first.", "warn")
        try:
            assignment = self.ctx.conversations.assign_intent(message_id, intent or "",
                                                              operator_examples_path(self.ctx.settings))
        except (ReviewError, MessageNotFound) as exc:
            return notice(str(exc), "error")
        return notice(f"Assigned to {assignment.intent!r}: “{short(assignment.text, 80)}” is now a training "
                      "example. Retrain to use it.", "ok")

    def on_retrain(self, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> str:
        assistant = self.ctx.assistant()
        progress(0, desc="Retraining the intent model")
        try:
            report = assistant.retrain_intents(progress=True)
        except RetrainRefused as exc:
            return notice(str(exc), "error")
        except ReviewError as exc:
            return notice(str(exc), "warn")
        return notice(f"Retrained on {report.examples} examples ({report.operator_examples} from operators, "
                      f"{report.intents} intents) in {report.seconds:.0f} s; the assistant now uses the new model.",
                      "ok")

    def on_probe(self, text: str) -> str:
        text = (text or "").strip()
        if not text:
            return notice("Type a message to classify.", "warn")
        result = self.ctx.assistant().classify(text)
        head = (f"intent: {result.intent} ({result.confidence:.2f})" if result.intent
                else f"out of scope ({result.confidence:.2f})")
        items = [(head, "flag")] + [(f"{s.intent} {s.probability:.2f}", "") for s in result.intents[:3]]
        return badges(items)

    def wire(self, refresh: Any) -> None:
        """Connect the tab's buttons; `refresh` = (fn, inputs, outputs) reloading the dashboards."""
        fn, inputs, outputs = refresh
        self.queue.select(self.on_select, [self.queue_ids, self.queue], [self.selected, self.picked, self.intent])
        self.assign.click(self.on_assign, [self.selected, self.intent], self.assign_status).then(
            lambda: (None, ""), None, [self.selected, self.picked]).then(fn, inputs, outputs)
        self.retrain.click(self.on_retrain, None, self.retrain_status, concurrency_limit=1).then(fn, inputs, outputs)
        for trigger in (self.probe.submit, self.probe_go.click):
            trigger(self.on_probe, self.probe, self.probe_out)
