"""`assistant kb add|rm|search|stats|list`: manage and query the knowledge base index.

The index folder, namespace default and embedding model come from Settings
(ASSISTANT_DATA_DIR, ASSISTANT_RETRIEVAL__*); `--namespace` picks a site's knowledge base.
Each command opens the engine's KnowledgeBase (the index and the embedding model, no chat model).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from assistant.cli.common import JsonFlag, build_settings, fail, print_json_last

if TYPE_CHECKING:
    from assistant.engine.knowledge import KnowledgeBase

kb_app = typer.Typer(
    help="Knowledge base: add documents, remove them, search, show stats.", no_args_is_help=True
)

NAMESPACE = typer.Option("default", "--namespace", "-n", help="Knowledge base (one per support site).")


def open_knowledge(data_dir: Path | None = None) -> KnowledgeBase:
    """The knowledge base of the configured index folder and embedding model; fails with one clear line."""
    from assistant.engine.errors import ModelNotFound, RetrievalError
    from assistant.engine.knowledge import KnowledgeBase

    settings = build_settings(data_dir=data_dir)
    try:
        return KnowledgeBase.open(settings)
    except (ModelNotFound, RetrievalError) as exc:
        fail(str(exc))


@kb_app.command("add")
def add(
    paths: list[Path] = typer.Argument(..., help="Files or folders (walked recursively)."),
    namespace: str = NAMESPACE,
    data_dir: Path = typer.Option(None, "--data-dir", help="Override ASSISTANT_DATA_DIR."),
    as_json: JsonFlag = False,
    base_url: str = typer.Option(
        None, "--base-url", help="Where the folder is published (https://help.example.com/): documents without "
        "a url of their own link to it + their file's path, without the extension.",
    ),
    keep_going: bool = typer.Option(
        False, "--keep-going", help="Exit 0 when some inputs were left out (they are still reported), "
        "as long as at least one was ingested or found unchanged.",
    ),
) -> None:
    """Ingest Markdown, text, HTML, PDF, FAQ CSV/JSONL and JSONL documents. Unchanged files are skipped.

    A file that cannot be read is reported and left out, and so is a bad row of a FAQ file, by line
    ("faq.jsonl:12: duplicate id 'x' (first on line 3)") while the file's good rows go in; the rest
    are ingested, and the exit code is 1 (0 with --keep-going if anything was ingested).
    """
    from assistant.engine.errors import RetrievalError

    knowledge = open_knowledge(data_dir)
    try:
        report = knowledge.add_documents(paths, namespace, progress=not as_json, base_url=base_url)
    except RetrievalError as exc:
        fail(str(exc))
    typer.echo(
        f"added {report.added}, updated {report.updated}, skipped {report.skipped}, deleted {report.deleted} "
        f"documents; {report.chunks} new chunks; index version {report.version} ({report.seconds:.1f}s)"
    )
    for where, message in report.errors:
        typer.echo(f"error: {where}: {message}", err=True)
    if as_json:
        print_json_last(report.model_dump())
    if report.errors:
        # the good files are in the index; the exit code still tells a script that some were left out
        typer.echo(f"error: {len(report.errors)} input(s) left out; the rest were ingested", err=True)
        if not (keep_going and (report.added or report.updated or report.skipped or report.deleted)):
            raise typer.Exit(1)


@kb_app.command("rm")
def remove(
    doc_ids: list[str] = typer.Argument(..., help="Document ids (see `assistant kb list`)."),
    namespace: str = NAMESPACE,
    data_dir: Path = typer.Option(None, "--data-dir", help="Override ASSISTANT_DATA_DIR."),
) -> None:
    """Delete documents by id."""
    from assistant.engine.errors import RetrievalError

    knowledge = open_knowledge(data_dir)
    missing = []
    try:
        for doc_id in doc_ids:
            if knowledge.delete_document(doc_id, namespace):
                typer.echo(f"deleted {doc_id}")
            else:
                missing.append(doc_id)
    except RetrievalError as exc:
        fail(str(exc))
    if missing:
        fail(f"no such document in namespace {namespace!r}: {', '.join(missing)}", code=1)


@kb_app.command("search")
def search(
    query: str = typer.Argument(..., help="The question to search for."),
    k: int = typer.Option(4, "--k", "-k", min=1, max=100, help="Passages to return."),
    mode: str = typer.Option(None, "--mode", help="hybrid | dense | bm25 (default from settings)."),
    namespace: str = NAMESPACE,
    data_dir: Path = typer.Option(None, "--data-dir", help="Override ASSISTANT_DATA_DIR."),
    as_json: JsonFlag = False,
) -> None:
    """Show the best-matching passages with their calibrated scores."""
    from assistant.engine.errors import RetrievalError

    knowledge = open_knowledge(data_dir)
    try:
        hits = knowledge.search(query, k, namespace, mode)
    except RetrievalError as exc:
        fail(str(exc))
    if not hits:
        typer.echo("no results")
    for n, hit in enumerate(hits, start=1):
        where = f" > {hit.section}" if hit.section else ""
        snippet = " ".join(hit.text.split())[:160]
        typer.echo(f"{n}. [{hit.score:.3f}] {hit.doc_id}{where}  ({hit.url or hit.source})\n   {snippet}")
    if as_json:
        print_json_last({"query": query, "hits": [h.model_dump() for h in hits]})


@kb_app.command("stats")
def stats(
    namespace: str = typer.Option(None, "--namespace", "-n", help="One knowledge base (default: all)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Override ASSISTANT_DATA_DIR."),
    as_json: JsonFlag = False,
) -> None:
    """Documents, chunks, embedding model, index type and size on disk."""
    from assistant.engine.errors import RetrievalError

    knowledge = open_knowledge(data_dir)
    try:
        info = knowledge.stats(namespace)
    except RetrievalError as exc:
        fail(str(exc))
    typer.echo(f"index {info['index_dir']}: embedding model {info['embedding_model']} ({info['dims']} dims)")
    for name, ns in info["namespaces"].items():
        typer.echo(
            f"  {name}: {ns['documents']} documents, {ns['chunks']} chunks, {ns['index_type']} index, "
            f"version {ns['version']}, {ns['size_bytes'] / 1e6:.2f} MB"
        )
    if not info["namespaces"]:
        typer.echo("  (empty: add documents with `assistant kb add PATH`)")
    if as_json:
        print_json_last(info)


@kb_app.command("list")
def list_documents(
    namespace: str = NAMESPACE,
    data_dir: Path = typer.Option(None, "--data-dir", help="Override ASSISTANT_DATA_DIR."),
    as_json: JsonFlag = False,
) -> None:
    """List documents: id, chunks, title, source."""
    from assistant.engine.errors import RetrievalError

    knowledge = open_knowledge(data_dir)
    try:
        docs = knowledge.documents(namespace)
    except RetrievalError as exc:
        fail(str(exc))
    for doc in docs:
        typer.echo(f"{doc['id']}\t{doc['chunks']}\t{doc['title']}\t{doc['source']}")
    if as_json:
        print_json_last({"namespace": namespace, "documents": docs})


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")
