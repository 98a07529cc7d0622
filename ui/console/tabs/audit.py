"""Console tab "Audit log": who did what, when, to which conversation, key or site (Assistant.audit, audit.py).

Read-only by design: entries cannot be changed or deleted anywhere. **Export audit log (CSV)** writes every entry
of the chosen site to `<data_dir>/exports/audit-log.csv` for download; the export is itself an entry.
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine.audit import ACTIONS
from ui.console.context import ALL_SITES, ConsoleContext, local_time
from ui.console.style import notice

COLUMNS = ["when", "site", "who", "action", "target", "detail"]
ANY_ACTION = "any action"
SHOWN = 500  # newest entries in the table; the export has them all


class AuditTab:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        with gr.Tab("Audit log", id="audit") as self.tab:
            with gr.Row():
                self.site = gr.Dropdown([ALL_SITES], value=ALL_SITES, label="Site", scale=2, elem_id="audit-site")
                self.action = gr.Dropdown([ANY_ACTION, *ACTIONS], value=ANY_ACTION, label="Action", scale=2,
                                          elem_id="audit-action")
                self.refresh = gr.Button("Refresh", scale=0, min_width=100, elem_id="audit-refresh")
            self.table = gr.Dataframe(pd.DataFrame(columns=COLUMNS), interactive=False, wrap=True,
                                      label=f"Entries, newest first (at most {SHOWN} shown)", elem_id="audit-table",
                                      max_height=420)
            with gr.Row():
                self.export = gr.Button("Export audit log (CSV)", elem_id="audit-export")
            self.file = gr.File(label="Download", interactive=False, elem_id="audit-download")
            self.status = gr.HTML(elem_id="audit-status")

    def render(self, site: str, action: str) -> list[Any]:
        """[site choices, table]."""
        site_id = None if site in ("", ALL_SITES, None) else site
        entries = self.ctx.assistant().audit.entries(site_id=site_id, action=None if action == ANY_ACTION else action,
                                                     limit=SHOWN)
        tz = self.ctx.settings.console.timezone
        table = pd.DataFrame([(local_time(e.at, tz), e.site_id, e.actor, e.action, e.target,
                               json.dumps(e.detail, ensure_ascii=False, sort_keys=True)) for e in entries],
                             columns=COLUMNS)
        return [gr.update(choices=[ALL_SITES, *[s.id for s in self.ctx.assistant().sites.all_sites()]]), table]

    def on_export(self, site: str) -> list[Any]:
        site_id = None if site in ("", ALL_SITES, None) else site
        path = self.ctx.export_dir() / (f"audit-log-{site_id}.csv" if site_id else "audit-log.csv")
        n = self.ctx.assistant().audit.export_csv(path, site_id=site_id, actor="operator")
        return [str(path), notice(f"{n} audit entries exported to {path}.", "ok")]

    def wire(self) -> None:
        inputs, outputs = [self.site, self.action], [self.site, self.table]
        for trigger in (self.tab.select, self.refresh.click, self.site.input, self.action.input):
            trigger(self.render, inputs, outputs)
        self.export.click(self.on_export, self.site, [self.file, self.status]).then(self.render, inputs, outputs)
