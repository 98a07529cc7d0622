"""Follow-up questions: retrieval hit@1 of the raw follow-up, of standalone_question() and of a hand rewrite.

    .venv/bin/python bench/followups.py [--data bench/data/followups.jsonl] [--json] [--show]

bench/data/followups.jsonl holds two-turn exchanges over the sample shop (bench/data/store_kb.jsonl) and the
zoomcamp FAQs (../shared/data/zoomcamp_faq/): the first question and a short answer, the follow-up as a
customer types it, a hand-written standalone rewrite, the ids that answer it, and `topic_change` for the
follow-ups that start a new subject (where the history must not be mixed in). One index per knowledge base
is built in a temporary folder with the default embedder and retrieval settings, as in
bench/retrieval_quality.py. For each exchange the top page of four searches is checked:

- raw: the follow-up as typed (what the assistant searched with before assistant/engine/followup.py);
- rules: standalone_question(follow-up, history), text rules only;
- rules+search: standalone_question(..., search=...), with the optional check against the retriever;
- reference: the hand-written standalone question (an upper bound for any rewrite).

hit@1 is the share whose first page is one of the relevant ids; "answerable" also needs the top calibrated
score to reach understanding.min_retrieval_score (below it the assistant abstains). Retrieval only: no chat
model is loaded. Prints a table, or the numbers as JSON with --json; --show lists every exchange.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine.followup import standalone_question  # noqa: E402
from assistant.engine.understanding.config import UnderstandingConfig  # noqa: E402
from retrieval import RetrievalConfig, Retriever  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.evaluation import load_kb  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "zoomcamp_faq"
KBS = {
    "store": ROOT / "bench" / "data" / "store_kb.jsonl",
    "zoomcamp-mlops": SHARED / "mlops_faq.jsonl",
    "zoomcamp-data-engineering": SHARED / "data-engineering_faq.jsonl",
}
VARIANTS = ("raw", "rules", "rules+search", "reference")
DEPTH = 30  # chunks per search, as retrieval.evaluation.evaluate asks for hit@1..10


def load_exchanges(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for n, row in enumerate(rows, start=1):
        if (
            row.get("kb") not in KBS
            or not row.get("relevant")
            or not row.get("query")
            or not row.get("history")
        ):
            raise SystemExit(f"{path}:{n}: needs kb (one of {', '.join(KBS)}), history, query and relevant")
    return rows


def texts(row: dict[str, Any], search: Callable[[str], list[Any]], min_score: float) -> dict[str, str]:
    history = [(turn["role"], turn["content"]) for turn in row["history"]]
    return {
        "raw": row["query"],
        "rules": standalone_question(row["query"], history),
        "rules+search": standalone_question(row["query"], history, search=search, min_score=min_score),
        "reference": row["standalone"],
    }


def run(rows: list[dict[str, Any]], min_score: float) -> list[dict[str, Any]]:
    from assistant.engine.models import resolve_embedding_model

    embedder = Embedder(resolve_embedding_model(""))
    results: list[dict[str, Any]] = []
    for kb, path in KBS.items():
        todo = [row for row in rows if row["kb"] == kb]
        if not todo:
            continue
        docs = load_kb(path)
        known = {doc.id for doc in docs}
        with tempfile.TemporaryDirectory() as tmp:
            retriever = Retriever.open(Path(tmp), embedder.spec, RetrievalConfig(), embedder=embedder)
            retriever.add_documents(docs)

            def search(text: str, retriever: Retriever = retriever) -> list[Any]:
                return retriever.search(text, DEPTH)

            for row in todo:
                missing = set(row["relevant"]) - known
                if missing:
                    raise SystemExit(f"{kb}: relevant ids not in {path.name}: {sorted(missing)}")
                out: dict[str, Any] = {
                    "kb": kb,
                    "topic_change": bool(row.get("topic_change")),
                    "query": row["query"],
                }
                for variant, text in texts(row, search, min_score).items():
                    hits = search(text)
                    top = hits[0] if hits else None
                    hit = top is not None and top.doc_id in row["relevant"]
                    out[variant] = {
                        "text": text,
                        "top": top.doc_id if top else None,
                        "score": round(top.score, 4) if top else 0.0,
                        "hit": hit,
                        "answerable": hit and top is not None and top.score >= min_score,
                    }
                results.append(out)
    return results


def summarise(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {"all": results}
    groups["follow-ups"] = [r for r in results if not r["topic_change"]]
    groups["topic changes"] = [r for r in results if r["topic_change"]]
    for kb in KBS:
        groups[f"{kb} follow-ups"] = [r for r in results if r["kb"] == kb and not r["topic_change"]]
    summary: dict[str, dict[str, Any]] = {}
    for name, rows in groups.items():
        if not rows:
            continue
        summary[name] = {"n": len(rows)}
        for variant in VARIANTS:
            summary[name][variant] = {
                "hit_at_1": sum(r[variant]["hit"] for r in rows) / len(rows),
                "hits": sum(r[variant]["hit"] for r in rows),
                "answerable": sum(r[variant]["answerable"] for r in rows),
            }
    return summary


def table(summary: dict[str, dict[str, Any]], min_score: float) -> str:
    head = f"{'exchanges':38s} {'n':>3s}" + "".join(f" {v:>18s}" for v in VARIANTS)
    lines = [f"hit@1 (hits / n), [answerable: hit and top score >= {min_score:.2f}]", head, "-" * len(head)]
    for name, row in summary.items():
        cells = "".join(
            f" {row[v]['hit_at_1']:5.2f} ({row[v]['hits']:2d}) [{row[v]['answerable']:2d}]" for v in VARIANTS
        )
        lines.append(f"{name:38s} {row['n']:3d}{cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data" / "followups.jsonl")
    parser.add_argument("--json", action="store_true", help="print the summary (and every exchange) as JSON")
    parser.add_argument(
        "--show", action="store_true", help="list every exchange with each variant's top page"
    )
    args = parser.parse_args()
    min_score = UnderstandingConfig().min_retrieval_score
    results = run(load_exchanges(args.data), min_score)
    summary = summarise(results)
    if args.json:
        print(
            json.dumps({"min_retrieval_score": min_score, "summary": summary, "exchanges": results}, indent=1)
        )
        return
    if args.show:
        for r in results:
            marks = "".join("1" if r[v]["hit"] else "." for v in VARIANTS)
            tag = "topic " if r["topic_change"] else "      "
            print(
                f"{marks} {tag}{r['kb'][:14]:14s} {r['query'][:50]:50s} -> {r['rules+search']['text'][:70]}"
            )
        print()
    print(table(summary, min_score))


if __name__ == "__main__":
    main()
