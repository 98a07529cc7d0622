"""Console tab "Knowledge base": upload, list, delete and test-search a site's documents; index stats.

Uploads are checked (type) before anything is written: a batch with an unsupported file is refused
whole with a message naming the file and the supported types. Accepted files are kept under
data_dir/uploads/<namespace>/ and ingested through Assistant.knowledge (document id = file name stem).
The default site's stats also list the files and FAQ rows (by line) that the first-start ingest
left out, from Assistant.knowledge.status().
"""

from __future__ import annotations

import shutil
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine.errors import RetrievalError
from assistant.engine.knowledge import SUPPORTED_FILE_TYPES as SUPPORTED
from assistant.engine.knowledge import check_namespace
from ui.console.context import ConsoleContext, short
from ui.console.style import notice, tiles

DOC_COLUMNS = ["document", "title", "chunks", "source"]
HIT_COLUMNS = ["#", "document", "title", "score", "passage"]


LEFT_OUT_SHOWN = 50


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def left_out_html(status: Any) -> str:
    """A warning listing what the first-start ingest left out (a KnowledgeStatus); '' when nothing was."""
    if status is None or not status.left_out_total:
        return ""
    shown = status.left_out[:LEFT_OUT_SHOWN]
    items = "".join(f"<li><code>{escape(x.where)}</code>: {escape(x.reason)}</li>" for x in shown)
    more = status.left_out_total - len(shown)
    source = f" from {escape(Path(status.source).name)}" if status.source else ""
    return (f'<div class="notice warn" id="kb-left-out"><b>{status.left_out_total} input(s) left out</b> when '
            f"the knowledge base was first ingested{source}; fix them and add the files again."
            f"<ul>{items}</ul>{f'<p>… and {more} more</p>' if more > 0 else ''}</div>")


class KnowledgeTab:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        with gr.Tab("Knowledge base", id="knowledge") as self.tab:
            with gr.Row(elem_classes="bar"):
                self.namespace = gr.Dropdown(["default"], value="default", label="Site (knowledge-base namespace)",
                                             allow_custom_value=True, scale=2, elem_id="kb-namespace")
                self.reload = gr.Button("Reload", scale=0, min_width=100)
            self.stats = gr.HTML(elem_id="kb-stats")
            with gr.Row():
                with gr.Column(scale=2):
                    self.upload = gr.File(label=f"Upload documents ({' '.join(SUPPORTED)})",
                                          file_count="multiple", elem_id="kb-upload")
                    self.add = gr.Button("Add to knowledge base", variant="primary", elem_id="kb-add")
                    self.upload_status = gr.HTML(elem_id="kb-upload-status")
                with gr.Column(scale=3):
                    with gr.Row(elem_classes="bar"):
                        self.query = gr.Textbox(label="Test a search", placeholder="a customer question", scale=4,
                                                elem_id="kb-query")
                        self.mode = gr.Dropdown(["hybrid", "dense", "bm25"], value="hybrid", label="Mode", scale=1)
                        self.search = gr.Button("Search", scale=0, min_width=100, elem_id="kb-search")
                    self.hits = gr.Dataframe(pd.DataFrame(columns=HIT_COLUMNS), interactive=False, wrap=True,
                                             label="Results", elem_id="kb-hits")
                    self.search_status = gr.HTML(elem_id="kb-search-status")
            self.docs = gr.Dataframe(pd.DataFrame(columns=DOC_COLUMNS), interactive=False, wrap=True,
                                     label="Documents", elem_id="kb-docs", max_height=320)
            with gr.Row(elem_classes="bar"):
                self.doc = gr.Dropdown([], label="Document to delete", scale=3, elem_id="kb-delete-doc")
                self.delete = gr.Button("Delete document", variant="stop", scale=0, min_width=170, elem_id="kb-delete")
            self.delete_status = gr.HTML(elem_id="kb-delete-status")

    def listing(self, namespace: str) -> tuple[Any, ...]:
        """Stats tiles, document table, delete choices and namespace choices for `namespace`."""
        knowledge = self.ctx.assistant().knowledge
        namespace = namespace or "default"
        held = namespace in knowledge.namespaces()  # a typed name may be new, or no valid name: shown empty
        docs = knowledge.documents(namespace) if held else []
        table = pd.DataFrame([(d["id"], d.get("title", ""), d.get("chunks", 0), Path(str(d.get("source", ""))).name)
                              for d in docs], columns=DOC_COLUMNS)
        stats = knowledge.stats(namespace) if held else {}
        per = stats.get("namespaces", {}).get(namespace, {})
        html = tiles([
            ("Documents", str(per.get("documents", 0)), f"site {namespace}", ""),
            ("Chunks", str(per.get("chunks", 0)), "searchable passages", ""),
            ("Index", str(per.get("index_type", "—")), f"version {per.get('version', 0)}", ""),
            ("On disk", _size(int(per.get("size_bytes", 0))), "this namespace", ""),
            ("Embedding model", Path(str(stats.get("embedding_model", "—"))).name or "—",
             f"{stats.get('dims', '—')} dimensions", ""),
        ])
        if namespace == "default":  # the namespace ingested on first start
            html += left_out_html(knowledge.status())
        sites = sorted(set(self.ctx.sites()) | {namespace})
        return html, table, gr.update(choices=table["document"].tolist(), value=None), \
            gr.update(choices=sites, value=namespace)

    def on_add(self, namespace: str, files: list[str] | None) -> tuple[Any, ...]:
        namespace = namespace or "default"
        try:
            check_namespace(namespace)  # it becomes a folder name: no "/" or ".." may get through
        except RetrievalError as exc:
            return (notice(f"Not added: {exc}", "error"), *self.listing("default"))
        if not files:
            return (notice("Choose one or more files first.", "warn"), *self.listing(namespace))
        paths = [Path(f) for f in files]
        bad = [p.name for p in paths if p.suffix.lower() not in SUPPORTED]
        if bad:
            return (notice(f"Not added: {', '.join(bad)} — unsupported file type. Upload one of: "
                           f"{', '.join(SUPPORTED)}.", "error"), *self.listing(namespace))
        target = Path(self.ctx.settings.data_dir) / "uploads" / namespace
        target.mkdir(parents=True, exist_ok=True)
        kept = []
        for p in paths:
            shutil.copyfile(p, target / p.name)
            kept.append(target / p.name)
        try:
            report = self.ctx.assistant().knowledge.add_documents(kept, namespace)
        except RetrievalError as exc:
            return (notice(f"Not added: {exc}", "error"), *self.listing(namespace))
        done = f"Added {report.added}, updated {report.updated}, unchanged {report.skipped} ({report.chunks} chunks)."
        if report.errors:
            problems = "; ".join(f"{Path(where).name}: {msg}" for where, msg in report.errors)
            return (notice(f"{done} Problems: {problems}", "warn"), *self.listing(namespace))
        return (notice(done, "ok"), *self.listing(namespace))

    def on_delete(self, namespace: str, doc_id: str | None) -> tuple[Any, ...]:
        namespace = namespace or "default"
        try:
            check_namespace(namespace)
        except RetrievalError as exc:
            return (notice(str(exc), "error"), *self.listing("default"))
        if not doc_id:
            return (notice("Pick a document to delete.", "warn"), *self.listing(namespace))
        if not self.ctx.assistant().knowledge.delete_document(doc_id, namespace):
            return (notice(f"No document {doc_id!r} in {namespace}.", "error"), *self.listing(namespace))
        for copy in (Path(self.ctx.settings.data_dir) / "uploads" / namespace).glob(f"{doc_id}.*"):
            copy.unlink(missing_ok=True)  # keep the upload folder in step with the index
        return (notice(f"Deleted {doc_id!r}.", "ok"), *self.listing(namespace))

    def on_search(self, namespace: str, query: str, mode: str) -> tuple[pd.DataFrame, str]:
        try:
            hits = self.ctx.assistant().knowledge.search(query, 5, namespace or "default", mode)
        except RetrievalError as exc:
            return pd.DataFrame(columns=HIT_COLUMNS), notice(str(exc), "error")
        rows = [(i, h.doc_id, h.title, round(h.score, 3), short(h.text, 200)) for i, h in enumerate(hits, 1)]
        msg = "" if rows else notice("No results in this namespace.", "warn")
        return pd.DataFrame(rows, columns=HIT_COLUMNS), msg

    def wire(self) -> None:
        listing_out = [self.stats, self.docs, self.doc, self.namespace]
        self.tab.select(self.listing, self.namespace, listing_out)
        self.reload.click(self.listing, self.namespace, listing_out)
        self.namespace.input(self.listing, self.namespace, listing_out)
        self.add.click(self.on_add, [self.namespace, self.upload], [self.upload_status, *listing_out])
        self.delete.click(self.on_delete, [self.namespace, self.doc], [self.delete_status, *listing_out])
        for trigger in (self.query.submit, self.search.click):
            trigger(self.on_search, [self.namespace, self.query, self.mode], [self.hits, self.search_status])
