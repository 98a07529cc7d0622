"""The Intents tab's editor: one site's intents and example messages (add, remove, retire), their version history
with revert, retraining that site's model with a progress bar, and trying it. Everything goes through
`Assistant.intents` (intent_versions.py): each change is a new version and an audit entry under the signed-in
operator, checked before anything is stored; edits classify once the site is retrained.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine.errors import RetrainRefused, ReviewError, SiteNotFound
from assistant.engine.intent_versions import IntentEditError, IntentOverview
from assistant.engine.sites import DEFAULT_SITE
from ui.console.context import ConsoleContext, local_time, short
from ui.console.style import badges, notice

INTENT_COLUMNS = ["intent", "examples", "in the base data", "status"]
EXAMPLE_COLUMNS = ["example"]
HISTORY_COLUMNS = ["version", "when", "who", "action", "intent", "example", "restores"]
HELP = ("#### Intents of a site\nPick the site, then an intent (or type a new name) to see its example messages. "
        "**Add example**, **Remove example** (select it in the list) and **Retire intent** are versions you can "
        "**Revert** from the history (version 0: the site's intents file). Changes classify once you **Retrain** "
        "the site's model.")


def operator(request: gr.Request | None) -> str:
    """Who is signed in to the console (the audit log's actor), or "operator" without a login."""
    return (getattr(request, "username", None) or "operator") if request is not None else "operator"


class IntentEditor:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        gr.Markdown(HELP)
        with gr.Row(elem_classes="bar"):
            self.site = gr.Dropdown([DEFAULT_SITE], value=DEFAULT_SITE, label="Site", scale=2, elem_id="intents-site")
            self.reload = gr.Button("Refresh", scale=0, min_width=100, elem_id="intents-refresh")
        with gr.Row():
            with gr.Column(scale=3):
                self.table = gr.Dataframe(pd.DataFrame(columns=INTENT_COLUMNS), interactive=False,
                                          label="Intents of the site", elem_id="site-intents", max_height=260)
            with gr.Column(scale=3):
                self.examples = gr.Dataframe(pd.DataFrame(columns=EXAMPLE_COLUMNS), interactive=False, wrap=True,
                                             label="Examples of the intent", elem_id="intent-examples",
                                             max_height=260)
        with gr.Row(elem_classes="bar"):
            self.intent = gr.Dropdown([], label="Intent (pick one, or type a new name)", allow_custom_value=True,
                                      scale=2, elem_id="edit-intent")
            self.text = gr.Textbox(label="Example message", scale=3, elem_id="edit-example")
        with gr.Row():
            self.add = gr.Button("Add example", variant="primary", elem_id="example-add")
            self.remove = gr.Button("Remove example", elem_id="example-remove")
            self.retire = gr.Button("Retire intent", variant="stop", elem_id="intent-retire")
        self.status = gr.HTML(elem_id="intent-edit-status")
        self.history = gr.Dataframe(pd.DataFrame(columns=HISTORY_COLUMNS), interactive=False, wrap=True,
                                    label="Version history (oldest first)", elem_id="intent-history", max_height=240)
        with gr.Row(elem_classes="bar"):
            self.version = gr.Number(None, label="Version to bring back (0: the intents file's)", precision=0,
                                     minimum=0, scale=2, elem_id="intent-version")
            self.revert = gr.Button("Revert to this version", scale=1, elem_id="intent-revert")
        with gr.Row():
            with gr.Column(scale=2):
                self.retrain = gr.Button("Retrain the site's intent model", variant="secondary",
                                         elem_id="retrain-button")
                self.retrain_status = gr.HTML(elem_id="retrain-status")
            with gr.Column(scale=3), gr.Row(elem_classes="bar"):
                self.probe = gr.Textbox(label="Try the site's intent model", scale=3, elem_id="probe-input",
                                        placeholder="a customer message")
                self.probe_go = gr.Button("Classify", scale=0, min_width=100, elem_id="probe-button")
        self.probe_out = gr.HTML(elem_id="probe-result")

    # -- rendering -------------------------------------------------------------------------------------
    def render(self, site: str) -> list[Any]:
        """[site choices, intents table, intent choices, history, retrain note]."""
        site = site or DEFAULT_SITE
        assistant = self.ctx.assistant()
        choices = sorted({DEFAULT_SITE, *(s.id for s in assistant.sites.all_sites())})
        try:
            overview = assistant.intents.overview(site)
        except IntentEditError:  # a site deleted meanwhile
            site = DEFAULT_SITE
            overview = assistant.intents.overview(site)
        table = pd.DataFrame([(i.intent, i.examples, i.base, i.status) for i in overview.intents],
                             columns=INTENT_COLUMNS)
        names = [i.intent for i in overview.intents if i.status != "retired"]
        return [gr.update(choices=choices, value=site), table, gr.update(choices=names), self.history_frame(overview),
                self.retrain_note(overview)]

    def history_frame(self, overview: IntentOverview) -> pd.DataFrame:
        tz = self.ctx.settings.console.timezone
        rows = [(v.version, local_time(v.at, tz), v.actor, v.action, v.intent or "", short(v.text or "", 100),
                 "" if v.restores is None else v.restores) for v in overview.versions]
        return pd.DataFrame(rows, columns=HISTORY_COLUMNS)

    @staticmethod
    def retrain_note(overview: IntentOverview) -> str:
        if overview.pending:
            return notice(f"Changes up to version {overview.version} are not in the model yet: retrain to use "
                          "them.", "warn")
        return ""

    def examples_of(self, site: str, intent: str | None) -> pd.DataFrame:
        texts = [t for t, _ in self.ctx.assistant().intents.examples(site or DEFAULT_SITE, (intent or "").strip())]
        return pd.DataFrame({"example": texts}, columns=EXAMPLE_COLUMNS)

    # -- events ----------------------------------------------------------------------------------------
    def on_pick_intent(self, site: str, table: pd.DataFrame, evt: gr.SelectData) -> list[Any]:
        """A row of the intents table: [intent, its examples]."""
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if row is None or row >= len(table):
            return [gr.update(), gr.update()]
        intent = str(table.iloc[row]["intent"])
        return [gr.update(value=intent), self.examples_of(site, intent)]

    def on_pick_example(self, examples: pd.DataFrame, evt: gr.SelectData) -> str | Any:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        return str(examples.iloc[row]["example"]) if row is not None and row < len(examples) else gr.update()

    def on_add(self, site: str, intent: str, text: str, request: gr.Request | None = None) -> list[Any]:
        """[status, history, examples] after adding an example."""
        return self._change(site, intent, lambda i: i.add(site or DEFAULT_SITE, intent or "", text or "",
                                                          actor=operator(request)), "Added")

    def on_remove(self, site: str, intent: str, text: str, request: gr.Request | None = None) -> list[Any]:
        return self._change(site, intent, lambda i: i.remove(site or DEFAULT_SITE, intent or "", text or "",
                                                             actor=operator(request)), "Removed")

    def on_retire(self, site: str, intent: str, request: gr.Request | None = None) -> list[Any]:
        return self._change(site, intent, lambda i: i.retire(site or DEFAULT_SITE, intent or "",
                                                             actor=operator(request)), "Retired")

    def on_revert(self, site: str, intent: str, version: float | None,
                  request: gr.Request | None = None) -> list[Any]:
        if version is None:
            return [notice("Pick a version number from the history first.", "warn"), gr.update(), gr.update()]
        return self._change(site, intent, lambda i: i.revert(site or DEFAULT_SITE, int(version),
                                                             actor=operator(request)),
                            f"Version {int(version)} restored")

    def _change(self, site: str, intent: str | None, change: Any, done: str) -> list[Any]:
        """Run one change: a clear error and nothing stored, or a confirmation with the new version."""
        try:
            overview = change(self.ctx.assistant().intents)
        except (IntentEditError, SiteNotFound) as exc:
            return [notice(str(exc), "error"), gr.update(), gr.update()]
        return [notice(f"{done}: the site's intents are now version {overview.version}. Retrain to use it.", "ok"),
                self.history_frame(overview), self.examples_of(site, intent)]

    def on_retrain(self, site: str, request: gr.Request | None = None,
                   progress: gr.Progress = gr.Progress(track_tqdm=True)) -> str:
        """Retrain the picked site's model; the trainer's tqdm bars drive the progress bar."""
        progress(0, desc="Retraining the intent model")
        try:
            report = self.ctx.assistant().intents.retrain(site or DEFAULT_SITE, actor=operator(request),
                                                          progress=True)
        except RetrainRefused as exc:
            return notice(str(exc), "error")
        except (ReviewError, IntentEditError) as exc:
            return notice(str(exc), "warn")
        return notice(f"Retrained {site or DEFAULT_SITE} on {report.examples} examples ({report.operator_examples} "
                      f"added by operators, {report.intents} intents) in {report.seconds:.0f} s; the site now uses "
                      "the new model.", "ok")

    def on_probe(self, site: str, text: str) -> str:
        text = (text or "").strip()
        if not text:
            return notice("Type a message to classify.", "warn")
        try:
            result = self.ctx.assistant().profiles.get(site or DEFAULT_SITE).classify(text)
        except SiteNotFound as exc:
            return notice(str(exc), "error")
        if result.intent is None and not result.intents:
            return notice(f"Site {site} has no intent model yet: add examples of two intents and retrain.", "warn")
        head = (f"intent: {result.intent} ({result.confidence:.2f})" if result.intent
                else f"out of scope ({result.confidence:.2f})")
        return badges([(head, "flag")] + [(f"{s.intent} {s.probability:.2f}", "") for s in result.intents[:3]])

    def wire(self) -> None:
        listing = (self.render, self.site, [self.site, self.table, self.intent, self.history, self.retrain_status])
        for trigger in (self.reload.click, self.site.input):
            trigger(*listing)
        self.table.select(self.on_pick_intent, [self.site, self.table], [self.intent, self.examples])
        self.intent.input(self.examples_of, [self.site, self.intent], self.examples)
        self.examples.select(self.on_pick_example, self.examples, self.text)
        changed = [self.status, self.history, self.examples]
        self.add.click(self.on_add, [self.site, self.intent, self.text], changed).then(*listing)
        self.remove.click(self.on_remove, [self.site, self.intent, self.text], changed).then(*listing)
        self.retire.click(self.on_retire, [self.site, self.intent], changed).then(*listing)
        self.revert.click(self.on_revert, [self.site, self.intent, self.version], changed).then(*listing)
        self.retrain.click(self.on_retrain, self.site, self.retrain_status, concurrency_limit=1)
        for trigger in (self.probe.submit, self.probe_go.click):
            trigger(self.on_probe, [self.site, self.probe], self.probe_out)
