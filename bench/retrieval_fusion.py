"""How the BM25 share and the FAQ-question (title) share of the ranking move P@1 on every eval set, in one run.

    python bench/retrieval_fusion.py            # writes the "fusion" part of bench/results/retrieval.md + a PNG

One index per set; each (title weight, BM25 weight) pair re-ranks the same candidates (the shipped ranker with
its rare-term gate, only the two weights changed). Sets: the zoomcamp course FAQs (all their questions,
measure-only data read from ../shared/data), BANKING77 dev questions against the FAQ with and without its
variants, the rare-code set and the sample store. The mean P@1 is over the sets that share no question with the
answer benchmark (bench/answers_text.py): BANKING77 dev, BANKING77 lean dev, codes and the data-engineering
questions outside its 300-question sample ("data-engineering dev"); mlops, the store and the whole data-engineering
set are checks, not used to choose. The BM25 weight is also part of the calibrated score that abstention thresholds,
and the top BM25 hit of every question, out-of-scope ones included, gets the whole weight: at 0.2 the share of
answerable questions clearing the threshold fell by 1-2 points on every base at an equal share of out-of-scope ones
stopped (bench/abstention_threshold.py). So BM25 stays at 0.1 and the title weight is the best mean with it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.retrieval_report import record  # noqa: E402
from retrieval import RetrievalConfig, Retriever  # noqa: E402
from retrieval.evaluation import load_kb, load_queries  # noqa: E402
from retrieval.fusion import FusionParams  # noqa: E402
from retrieval.ranker import TITLE_WEIGHT  # noqa: E402

DATA, SHARED = ROOT / "bench" / "data", ROOT.parent / "shared" / "data" / "zoomcamp_faq"
SETS = {
    "zoomcamp data-engineering": (SHARED / "data-engineering_faq.jsonl", SHARED / "data-engineering_questions.jsonl"),
    "data-engineering dev": (SHARED / "data-engineering_faq.jsonl", Path("data-engineering dev")),
    "zoomcamp mlops": (SHARED / "mlops_faq.jsonl", SHARED / "mlops_questions.jsonl"),
    "banking77 dev": (DATA / "banking77_faq_kb.jsonl", DATA / "banking77_faq_dev_queries.jsonl"),
    "banking77 lean dev": (DATA / "banking77_faq_lean_kb.jsonl", DATA / "banking77_faq_dev_queries.jsonl"),
    "codes": (DATA / "banking77_codes_kb.jsonl", DATA / "banking77_codes_queries.jsonl"),
    "store": (DATA / "store_kb.jsonl", DATA / "store_eval_queries.jsonl"),
}
CHOOSE_ON = ("banking77 dev", "banking77 lean dev", "codes", "data-engineering dev")
TITLE_WEIGHTS = (0.0, 0.15, 0.3)
BM25_WEIGHTS = (0.1, 0.2, 0.3, 0.5)


def questions(queries: Path) -> list:
    """The answerable questions of a set; "data-engineering dev" is the course's minus the answer bench's sample."""
    if queries.name != "data-engineering dev":
        return [q for q in load_queries(queries) if q.relevant]
    from bench.answers_text import course_queries

    sample = {(q["query"], tuple(sorted(q["relevant"]))) for q in course_queries("data-engineering", 0, 300) if q["relevant"]}
    whole = load_queries(SHARED / "data-engineering_questions.jsonl")
    return [q for q in whole if (q.query, tuple(sorted(q.relevant))) not in sample]


def p_at_1(model: str, kb: Path, queries: Path) -> dict[tuple[float, float], float]:
    docs = load_kb(kb)
    query_set = questions(queries)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        retriever = Retriever.open(Path(tmp), model, RetrievalConfig())
        retriever.add_documents(docs, progress=False)
        vectors = retriever.embedder.encode([q.query for q in query_set], progress=True)
        snap, ranker = retriever.snapshot(), retriever.ranker
        for tw in TITLE_WEIGHTS:
            for bw in BM25_WEIGHTS:
                ranker.title_weight, ranker.fusion = tw, FusionParams(bm25_weight=bw)
                hits = [ranker.rank(snap, q.query, v, 1, "hybrid") for q, v in zip(query_set, vectors, strict=True)]
                out[(tw, bw)] = sum(bool(h) and h[0].doc_id in q.relevant
                                    for h, q in zip(hits, query_set, strict=True)) / len(query_set)
        retriever.close()
    return out


def plot(results: dict[str, dict[tuple[float, float], float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TITLE_WEIGHTS), figsize=(4.2 * len(TITLE_WEIGHTS), 3.6), sharey=True)
    for ax, tw in zip(axes, TITLE_WEIGHTS, strict=True):
        for name, grid in results.items():
            ax.plot(BM25_WEIGHTS, [grid[(tw, bw)] for bw in BM25_WEIGHTS], marker="o", label=name)
        ax.set_title(f"title weight {tw}" + (" (shipped)" if tw == TITLE_WEIGHT else ""))
        ax.set_xlabel("BM25 weight (shipped 0.1)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("P@1")
    axes[-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    from assistant.engine.models import resolve_embedding_model

    model = resolve_embedding_model("")
    results = {}
    for name, (kb, queries) in SETS.items():
        if not kb.exists() or not (queries.exists() or queries.name == "data-engineering dev"):
            print(f"{name}: {kb} missing, skipped", file=sys.stderr)
            continue
        results[name] = p_at_1(model, kb, queries)
        print(name, {f"{tw}/{bw}": round(v, 3) for (tw, bw), v in results[name].items()}, file=sys.stderr)
    shipped = (TITLE_WEIGHT, FusionParams().bm25_weight)
    pairs = [(tw, bw) for tw in TITLE_WEIGHTS for bw in BM25_WEIGHTS]
    chosen = [name for name in CHOOSE_ON if name in results]
    head = "| title / BM25 weight | mean of the choosing sets | " + " | ".join(results) + " |"
    rows = [head, "|" + " --- |" * (len(results) + 2)]
    for pair in pairs:
        label = f"{pair[0]} / {pair[1]}" + (" (shipped)" if pair == shipped else "")
        mean = sum(results[name][pair] for name in chosen) / max(len(chosen), 1)
        rows.append(f"| {label} | {mean:.4f} | " + " | ".join(f"{grid[pair]:.3f}" for grid in results.values()) + " |")
    png = ROOT / "bench" / "results" / "retrieval_fusion.png"
    plot(results, png)
    record("fusion", "\n".join([*rows, "", f"![P@1 by fusion weights]({png.name})"]),
           {f"{name} {tw}/{bw}": v for name, grid in results.items() for (tw, bw), v in grid.items()})
    print("\n".join(rows))


if __name__ == "__main__":
    main()
