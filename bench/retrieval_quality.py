"""Retrieval quality: dense vs BM25 vs hybrid fusions on FAQ and help-centre eval sets, in one run.

    python bench/retrieval_quality.py [--sets banking77,banking77_lean,clinc150,codes,store] [--limit N]

Run bench/retrieval_faq_data.py first (it writes the BANKING77/CLINC150 sets). For every set one
index is built, queries are embedded once, and each ranking variant runs over the same index:
dense, BM25, hybrid (default: gated score fusion), hybrid with gated RRF, and naive 50/50 RRF;
plus the reference #3 quotes: plain MiniLM, one vector per document (title + text), no chunks.
Also reported: the rare-term subset of BANKING77 test (queries sharing a word that is in at most
2 entries with their answer entry). Writes bench/results/retrieval.md (part "quality") and
bench/results/retrieval_quality.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.retrieval_report import record, table  # noqa: E402
from retrieval import RetrievalConfig, Retriever  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.evaluation import METRIC_KEYS, Query, evaluate, load_kb, load_queries  # noqa: E402
from retrieval.fusion import FusionParams  # noqa: E402
from retrieval.tokenizer import tokenize  # noqa: E402

DATA = ROOT / "bench" / "data"
VAR = ROOT / "var" / "bench"
SETS = {
    "banking77": (DATA / "banking77_faq_kb.jsonl", DATA / "banking77_faq_queries.jsonl"),
    "banking77_lean": (DATA / "banking77_faq_lean_kb.jsonl", DATA / "banking77_faq_queries.jsonl"),
    "clinc150": (VAR / "clinc150_faq_kb.jsonl", VAR / "clinc150_faq_queries.jsonl"),
    "codes": (DATA / "banking77_codes_kb.jsonl", DATA / "banking77_codes_queries.jsonl"),
    "store": (DATA / "store_kb.jsonl", DATA / "store_eval_queries.jsonl"),
}
DESCRIPTION = {
    "banking77": "BANKING77 FAQ (77 entries: question, answer + 5 train variants; 3,080 test queries)",
    "banking77_lean": "BANKING77 FAQ, question + answer only (no variants)",
    "clinc150": "CLINC150 FAQ (150 entries: intent name + 5 train utterances; 3,000 val queries)",
    "codes": "rare-term set: error codes in BANKING77 answers, queries quote a code (231)",
    "store": "sample store help centre (30 pages, 80 queries)",
    "banking77_rare": "BANKING77 test queries sharing a word in <=2 entries with their answer",
}
PLAIN = "plain MiniLM, 1 vector per document"


def variants(base: FusionParams) -> dict[str, tuple[str, FusionParams]]:
    return {
        "dense": ("dense", base),
        "bm25": ("bm25", base),
        "hybrid (default: gated score fusion)": ("hybrid", base),
        "hybrid, gated RRF": ("hybrid", FusionParams(**{**base.__dict__, "method": "rrf"})),
        "naive RRF 50/50": ("hybrid", FusionParams(method="rrf", bm25_weight=1.0, gate=False)),
    }


def rare_subset(docs, queries: list[Query]) -> list[Query]:
    df: dict[str, int] = {}
    words = {}
    for doc in docs:
        words[doc.id] = set(tokenize(f"{doc.title} {doc.text}"))
        for token in words[doc.id]:
            df[token] = df.get(token, 0) + 1
    return [
        q
        for q in queries
        if any(
            df.get(t, 0) <= 2 and any(t in words.get(r, ()) for r in q.relevant) for t in tokenize(q.query)
        )
    ]


def run_set(name: str, embedder: Embedder, limit: int | None) -> dict[str, dict]:
    kb, qpath = SETS[name]
    docs = load_kb(kb)
    queries = load_queries(qpath)[:limit] if limit else load_queries(qpath)
    config = RetrievalConfig()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        retriever = Retriever.open(Path(tmp), embedder.spec, config, embedder=embedder)
        retriever.add_documents(docs, progress=True)
        vectors = embedder.encode([q.query for q in queries], progress=True)
        by_text = {q.query: v for q, v in zip(queries, vectors, strict=True)}
        base = retriever.ranker.fusion
        subsets = {name: queries}
        if name == "banking77":
            subsets["banking77_rare"] = rare_subset(docs, queries)
        for label, (mode, fusion) in variants(base).items():
            retriever.ranker.fusion = fusion
            for subset, qs in subsets.items():
                res = evaluate(
                    lambda q, n, mode=mode: retriever.search_embedded(q, by_text[q], n, mode=mode),
                    qs,
                    progress=False,
                )
                res.pop("per_query")
                results.setdefault(subset, {})[label] = res
                print(
                    f"{subset:16s} {label:38s} nDCG@10 {res['ndcg_at_10']:.4f}  P@1 {res['p_at_1']:.4f}",
                    flush=True,
                )
        retriever.ranker.fusion = base
    # the reference the issue quotes: one MiniLM vector per whole document, nearest first
    doc_vecs = embedder.encode([f"{d.title}\n{d.text}" if d.title else d.text for d in docs], progress=True)
    doc_ids = [d.id for d in docs]

    def plain(query: str, n: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(doc_id=doc_ids[i], score=0.0) for i in np.argsort(-(doc_vecs @ by_text[query]))[:n]]

    for subset, qs in subsets.items():
        res = evaluate(plain, qs, progress=False)
        res.pop("per_query")
        results[subset][PLAIN] = res
        print(f"{subset:16s} {PLAIN:38s} nDCG@10 {res['ndcg_at_10']:.4f}  P@1 {res['p_at_1']:.4f}", flush=True)
    return results


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(results)
    labels = list(next(iter(results.values())))
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(sets)) + 3, 4.5))
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        ax.bar(
            np.arange(len(sets)) + i * width,
            [results[s][label]["ndcg_at_10"] for s in sets],
            width,
            label=label,
        )
    ax.set_xticks(np.arange(len(sets)) + 0.4 - width / 2, sets)
    ax.set_ylabel("nDCG@10")
    ax.set_ylim(0, 1)
    ax.set_title("Retrieval quality by ranking (MiniLM + BM25)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, not over them
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="banking77,banking77_lean,clinc150,codes,store")
    parser.add_argument("--limit", type=int, default=None, help="Use only the first N queries of each set.")
    args = parser.parse_args()
    names = [s for s in args.sets.split(",") if s]
    for name in names:
        if name not in SETS:
            raise SystemExit(f"error: unknown set {name!r}; choose from {', '.join(SETS)}")
        if not SETS[name][0].exists():
            raise SystemExit(f"error: {SETS[name][0]} missing: run python bench/retrieval_faq_data.py first")
    from assistant.engine.models import resolve_embedding_model

    embedder = Embedder(resolve_embedding_model(""))
    results: dict[str, dict] = {}
    for name in names:
        results.update(run_set(name, embedder, args.limit))
    png = ROOT / "bench" / "results" / "retrieval_quality.png"
    plot(results, png)
    labels = list(next(iter(results.values())))
    rows = []
    for subset, by_label in results.items():
        best_single = max(by_label["dense"]["ndcg_at_10"], by_label["bm25"]["ndcg_at_10"])
        for label in labels:
            res = by_label[label]
            mark = " ✓" if label.startswith("hybrid (default") and res["ndcg_at_10"] >= best_single else ""
            rows.append(
                [
                    subset if label == "dense" else "",
                    label + mark,
                    *(res[k] for k in METRIC_KEYS),
                    res["queries"],
                ]
            )
    md = "\n".join(
        [
            "### Retrieval quality (nDCG@10, same index and query vectors for every ranking)",
            "",
            "Sets: " + "; ".join(f"**{s}**: {DESCRIPTION[s]}" for s in results) + ".",
            "A ✓ marks the default hybrid where it is at least as good as the better of dense-only and BM25-only. "
            f"The last row per set, *{PLAIN}*, is the reference #3 quotes for paraphrased questions: one MiniLM "
            "vector per whole document (title + text, truncated at 256 tokens), no chunks, title rows or BM25.",
            "",
            table(["set", "ranking", "P@1", "MRR@10", "nDCG@10", "Recall@10", "queries"], rows),
            "",
            f"![quality]({png.name})",
        ]
    )
    record("quality", md, results)
    print(f"wrote bench/results/retrieval.md and {png.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
