"""`assistant eval retrieval --kb KB.jsonl --queries QUERIES.jsonl [--k 10] [--mode M] [--json]`.

Builds a throwaway index from KB.jsonl ({"id","title","text"} per line), runs every query of
QUERIES.jsonl ({"query","relevant":[ids]}) and reports P@1, MRR@k, nDCG@10, Recall@10 and
per-query search latency (embedding included). `--json` prints the metrics as the last line.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from assistant.cli.common import JsonFlag, build_settings, fail, print_json_last


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    @eval_app.command("retrieval")
    def eval_retrieval(
        kb: Path = typer.Option(..., "--kb", help='KB JSONL: {"id","title","text"} per line.'),
        queries: Path = typer.Option(
            ..., "--queries", help='Queries JSONL: {"query","relevant":[ids]} per line.'
        ),
        k: int = typer.Option(10, "--k", min=1, max=100, help="Ranking depth for MRR (nDCG/recall use 10)."),
        mode: str = typer.Option(None, "--mode", help="hybrid | dense | bm25 (default: hybrid)."),
        model: str = typer.Option(
            None, "--embedding-model", help="Sentence-transformers folder (default: MiniLM)."
        ),
        as_json: JsonFlag = False,
    ) -> None:
        """Measure retrieval quality and latency on a KB and a query set."""
        # retrieval itself, on purpose: it measures a throw-away index of the eval KB, not the served KnowledgeBase
        from assistant.engine.models import ModelNotFound, resolve_embedding_model
        from retrieval import MODES, RetrievalError, Retriever
        from retrieval.evaluation import METRIC_KEYS, evaluate, load_kb, load_queries
        from retrieval.retriever import MODE

        settings = build_settings(**{"retrieval.embedding_model": model})
        mode_used = mode or MODE
        if mode_used not in MODES:
            fail(f"unknown mode {mode_used!r}; use one of {', '.join(MODES)}")
        for path in (kb, queries):
            if not path.is_file():
                fail(f"file not found: {path}")
        try:
            docs = load_kb(kb)
            query_set = load_queries(queries)
            embedding_model = resolve_embedding_model(settings.retrieval.embedding_model)
            with tempfile.TemporaryDirectory(prefix="eval-retrieval-") as tmp:
                retriever = Retriever.open(Path(tmp), embedding_model, settings.retrieval)
                report = retriever.add_documents(docs, progress=not as_json)
                if report.errors:
                    fail(
                        f"{len(report.errors)} KB entries rejected, first: {report.errors[0][0]}: {report.errors[0][1]}"
                    )
                result = evaluate(
                    lambda q, n: retriever.search(q, k=n, mode=mode_used),
                    query_set,
                    k=k,
                    progress=not as_json,
                )
                retriever.close()
        except (ModelNotFound, RetrievalError, OSError) as exc:
            fail(str(exc))
        result.pop("per_query")
        # the runtime is reported because int8 scores differ between CPUs (retrieval/embedder.py)
        result.update(mode=mode_used, documents=len(docs), embedding_model=retriever.embedder.name,
                      embed_backend=retriever.embedder.backend)
        typer.echo(f"retrieval eval: {kb.name} ({len(docs)} docs), {queries.name} ({len(query_set)} queries)")
        typer.echo(f"  mode {mode_used}, model {result['embedding_model']} ({result['embed_backend']}), k {k}")
        typer.echo(f"  {'metric':<16}{'value':>10}")
        for key in (*METRIC_KEYS, "latency_ms_p50", "latency_ms_p99"):
            typer.echo(f"  {key:<16}{result[key]:>10.4f}")
        if as_json:
            print_json_last(result)
