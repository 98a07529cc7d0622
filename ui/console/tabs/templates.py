"""Console tab "Templates": a site's curated replies, an editor (add, edit, retire) and each template's version
history with revert. Everything goes through `Assistant.templates` (template_versions.py): a change is checked
like a templates file before it is stored, becomes a new version and an audit entry under the operator's name,
and answers from the site's next turn. The site's templates file is never written: edits overlay it.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine.errors import SiteNotFound, TemplateError
from assistant.engine.sites import DEFAULT_SITE
from assistant.engine.template_versions import SiteTemplate, TemplateNotFound
from ui.console.context import ConsoleContext, local_time, short
from ui.console.style import notice

COLUMNS = ["id", "intent", "status", "version", "text", "sources"]
HISTORY_COLUMNS = ["version", "when", "who", "action", "text", "restores"]
HELP = ("Curated replies of the chosen site, word for word, for a confident intent (placeholders such as "
        "`{company}`, `{order_id}` are filled in). Select one to edit it, or **New template**. **Save** checks it "
        "like a templates file (known placeholders, a text, source pages of the site's knowledge base) and it "
        "answers from the next turn on; **Retire** stops it. Every change is a version: pick one below and "
        "**Revert** to bring it back (version 0: the templates file's own text).")


def _operator(request: gr.Request | None) -> str:
    """Who is signed in to the console (the audit log's actor), or "operator" without a login."""
    return (getattr(request, "username", None) or "operator") if request is not None else "operator"


class TemplatesTab:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        with gr.Tab("Templates", id="templates") as self.tab:
            gr.Markdown(HELP)
            with gr.Row(elem_classes="bar"):
                self.site = gr.Dropdown([DEFAULT_SITE], value=DEFAULT_SITE, label="Site", scale=2,
                                        elem_id="templates-site")
                self.refresh = gr.Button("Refresh", scale=0, min_width=100, elem_id="templates-refresh")
            self.table = gr.Dataframe(pd.DataFrame(columns=COLUMNS), interactive=False, wrap=True,
                                      label="Templates", elem_id="templates-table", max_height=360)
            self.ids = gr.State([])
            with gr.Row():
                self.template_id = gr.Textbox(label="Template id", scale=2, elem_id="template-id",
                                              placeholder="opening_hours.default")
                self.intent = gr.Dropdown([], label="Intent", allow_custom_value=True, scale=2,
                                          elem_id="template-intent")
                self.threshold = gr.Number(None, label="Intent threshold (empty: unchanged)", minimum=0, maximum=1,
                                           scale=1, elem_id="template-threshold")
            self.text = gr.Textbox(label="Text", lines=3, elem_id="template-text")
            with gr.Row():
                self.sources = gr.Textbox(label="Source pages (doc ids, comma-separated)", scale=2,
                                          elem_id="template-sources")
                self.requires = gr.Textbox(label="Only when the message contains (order_id, email)", scale=1,
                                           elem_id="template-requires")
            with gr.Row():
                self.save = gr.Button("Save", variant="primary", elem_id="template-save")
                self.retire = gr.Button("Retire", variant="stop", elem_id="template-retire")
                self.new = gr.Button("New template", elem_id="template-new")
            self.status = gr.HTML(elem_id="template-status")
            self.history = gr.Dataframe(pd.DataFrame(columns=HISTORY_COLUMNS), interactive=False, wrap=True,
                                        label="Version history (oldest first)", elem_id="template-history",
                                        max_height=260)
            with gr.Row(elem_classes="bar"):
                self.version = gr.Number(None, label="Version to bring back (0: the templates file's)", precision=0,
                                         minimum=0, scale=2, elem_id="template-version")
                self.revert = gr.Button("Revert to this version", scale=1, elem_id="template-revert")

    @property
    def editor(self) -> list[Any]:
        return [self.template_id, self.intent, self.threshold, self.text, self.sources, self.requires]

    # -- rendering -------------------------------------------------------------------------------------
    def render(self, site: str) -> list[Any]:
        """[site choices, table, ids, intent choices]."""
        site = site or DEFAULT_SITE
        assistant = self.ctx.assistant()
        choices = sorted({DEFAULT_SITE, *(s.id for s in assistant.sites.all_sites())})
        try:
            items = assistant.templates.list(site)
        except SiteNotFound:
            items, site = [], DEFAULT_SITE
        table = pd.DataFrame([(t.id, t.intent, t.status, t.version, short(t.text, 140), ", ".join(t.sources))
                              for t in items], columns=COLUMNS)
        return [gr.update(choices=choices, value=site), table, [t.id for t in items],
                gr.update(choices=self.intents(site, items))]

    def intents(self, site: str, items: list[SiteTemplate]) -> list[str]:
        """The site's intents: its intent model's labels and those its templates name."""
        model = self.ctx.assistant().profiles.get(site).intent_model()
        labels = getattr(model, "labels", None) or []
        return sorted({*labels, *(t.intent for t in items if t.intent)} - {"oos"})

    def history_frame(self, item: SiteTemplate | None) -> pd.DataFrame:
        tz = self.ctx.settings.console.timezone
        rows = [(v.version, local_time(v.at, tz), v.actor, v.action,
                 "(retired)" if v.state == "retired" else "(the file's text)" if v.state == "file" else v.text,
                 "" if v.restores is None else v.restores) for v in (item.versions if item else [])]
        return pd.DataFrame(rows, columns=HISTORY_COLUMNS)

    def fill(self, item: SiteTemplate | None) -> list[Any]:
        """The editor and history for `item` ([id, intent, threshold, text, sources, requires, history])."""
        if item is None:
            return ["", gr.update(value=None), None, "", "", "", self.history_frame(None)]
        return [item.id, gr.update(value=item.intent), item.threshold, item.text, ", ".join(item.sources),
                ", ".join(item.requires), self.history_frame(item)]

    # -- events ----------------------------------------------------------------------------------------
    def on_select(self, site: str, ids: list[str], evt: gr.SelectData) -> list[Any]:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if row is None or row >= len(ids):
            return [gr.update() for _ in range(7)]
        try:
            return self.fill(self.ctx.assistant().templates.get(site or DEFAULT_SITE, ids[row]))
        except (TemplateNotFound, SiteNotFound) as exc:
            gr.Warning(str(exc))
            return [gr.update() for _ in range(7)]

    def on_save(self, site: str, template_id: str, intent: str, threshold: float | None, text: str, sources: str,
                requires: str, request: gr.Request | None = None) -> list[Any]:
        """[status, history] after saving (add or edit)."""
        def save() -> SiteTemplate:
            return self.ctx.assistant().templates.save(
                site or DEFAULT_SITE, template_id, intent=intent or "", text=text or "", sources=sources or "",
                requires=requires or "", threshold=threshold, actor=_operator(request))
        return self._change(save, "Saved")

    def on_retire(self, site: str, template_id: str, request: gr.Request | None = None) -> list[Any]:
        return self._change(lambda: self.ctx.assistant().templates.retire(
            site or DEFAULT_SITE, (template_id or "").strip(), actor=_operator(request)), "Retired")

    def on_revert(self, site: str, template_id: str, version: float | None,
                  request: gr.Request | None = None) -> list[Any]:
        if version is None:
            return [notice("Pick a version number from the history first.", "warn"), gr.update()]
        return self._change(lambda: self.ctx.assistant().templates.revert(
            site or DEFAULT_SITE, (template_id or "").strip(), int(version), actor=_operator(request)),
            f"Version {int(version)} restored")

    def _change(self, change: Any, done: str) -> list[Any]:
        """Run one change: a clear error and nothing stored, or a confirmation with the new version."""
        try:
            item = change()
        except (TemplateError, TemplateNotFound, SiteNotFound) as exc:
            return [notice(str(exc).strip("'\""), "error"), gr.update()]
        return [notice(f"{done}: {item.id} is now version {item.version} ({item.status}); it applies from the "
                       "site's next turn.", "ok"), self.history_frame(item)]

    def wire(self) -> None:
        listing = (self.render, self.site, [self.site, self.table, self.ids, self.intent])
        for trigger in (self.tab.select, self.refresh.click, self.site.input):
            trigger(*listing)
        self.table.select(self.on_select, [self.site, self.ids], [*self.editor, self.history])
        self.new.click(lambda: self.fill(None), None, [*self.editor, self.history])
        self.save.click(self.on_save, [self.site, *self.editor], [self.status, self.history]).then(*listing)
        self.retire.click(self.on_retire, [self.site, self.template_id], [self.status, self.history]).then(*listing)
        self.revert.click(self.on_revert, [self.site, self.template_id, self.version],
                          [self.status, self.history]).then(*listing)
