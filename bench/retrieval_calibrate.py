"""Fits the hybrid score calibration (logistic curve over fused evidence) and checks it on held-out sets.

    python bench/retrieval_calibrate.py [--limit N]

Fit: BANKING77 *dev* queries (train utterances not in the KB text) against the full and the lean
BANKING77 FAQ; each query's top 4 documents labelled relevant or not. Check: expected calibration error (ECE)
of the top hit's score on BANKING77 test, CLINC150 and the store help centre, plus the mean top
score of the store's unanswerable questions. Prints the constants for retrieval/fusion.py
(Calibration), writes bench/results/retrieval.md (part "calibration") and a reliability diagram
bench/results/retrieval_calibration.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.retrieval_quality import SETS  # noqa: E402
from bench.retrieval_report import record, table  # noqa: E402
from retrieval import RetrievalConfig, Retriever  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.evaluation import load_kb, load_queries  # noqa: E402
from retrieval.fusion import Calibration  # noqa: E402

DEV = ROOT / "bench" / "data" / "banking77_faq_dev_queries.jsonl"
BINS = np.linspace(0, 1, 11)
TOP = 4  # fit on the top documents only: the scores the answer policy thresholds


def collect(
    embedder: Embedder, kb: Path, queries_path: Path, limit: int | None, calibration: Calibration | None
):
    """Per candidate: (evidence, relevant); per query: (top calibrated score, top relevant, answerable)."""
    queries = load_queries(queries_path)[:limit] if limit else load_queries(queries_path)
    pairs: list[tuple[float, int]] = []
    tops: list[tuple[float, int, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        r = Retriever.open(Path(tmp), embedder.spec, RetrievalConfig(), embedder=embedder)
        if calibration is not None:
            r.ranker.calibration = calibration
        r.add_documents(load_kb(kb))
        vectors = embedder.encode([q.query for q in queries], progress=True)
        snap = r.snapshot()
        for q, vec in zip(queries, vectors, strict=True):
            scored = r.ranker.score(snap, q.query, vec, "hybrid", 50)
            seen: set[str] = set()
            for row, ev in zip(scored.chunks, scored.evidence, strict=True):
                doc = snap.chunks[int(row)].doc_id
                if doc not in seen and len(seen) < TOP:  # the hits an answer would use, one per document
                    seen.add(doc)
                    pairs.append((float(ev), int(doc in q.relevant)))
            top_doc = snap.chunks[int(scored.chunks[0])].doc_id
            tops.append((float(scored.calibrated[0]), int(top_doc in q.relevant), int(bool(q.relevant))))
    return np.array(pairs), np.array(tops)


def ece(scores: np.ndarray, correct: np.ndarray) -> float:
    idx = np.clip(np.digitize(scores, BINS) - 1, 0, len(BINS) - 2)
    return float(
        sum(
            abs(scores[idx == b].mean() - correct[idx == b].mean()) * (idx == b).mean()
            for b in range(len(BINS) - 1)
            if (idx == b).any()
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="Use only the first N queries of each set.")
    args = parser.parse_args()
    from assistant.engine.models import resolve_embedding_model

    embedder = Embedder(resolve_embedding_model(""))
    fit_pairs = np.concatenate(
        [
            collect(embedder, SETS[name][0], DEV, args.limit, None)[0]
            for name in ("banking77", "banking77_lean")
        ]
    )
    model = LogisticRegression(C=100.0).fit(fit_pairs[:, :1], fit_pairs[:, 1])
    fitted = Calibration(
        slope=round(float(model.coef_[0, 0]), 2), intercept=round(float(model.intercept_[0]), 2)
    )
    print(f"fitted on {len(fit_pairs)} candidates: {fitted}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    rows, numbers = [], {"fitted": fitted.__dict__}
    for name in ("banking77", "banking77_lean", "clinc150", "store"):
        _, tops = collect(embedder, *SETS[name], args.limit, fitted)
        answerable = tops[tops[:, 2] == 1]
        score, correct = answerable[:, 0], answerable[:, 1]
        err = ece(score, correct)
        unans = tops[tops[:, 2] == 0][:, 0]
        rows.append(
            [
                name,
                len(answerable),
                float(correct.mean()),
                float(score.mean()),
                err,
                f"{unans.mean():.3f} (n={len(unans)})" if len(unans) else "-",
            ]
        )
        numbers[name] = {"ece": err, "p_at_1": float(correct.mean()), "mean_top_score": float(score.mean())}
        idx = np.clip(np.digitize(score, BINS) - 1, 0, len(BINS) - 2)
        xs = [score[idx == b].mean() for b in range(len(BINS) - 1) if (idx == b).sum() >= 10]
        ys = [correct[idx == b].mean() for b in range(len(BINS) - 1) if (idx == b).sum() >= 10]
        ax.plot(xs, ys, "o-", label=f"{name} (ECE {err:.3f})")
    ax.set_xlabel("calibrated score of the top hit")
    ax.set_ylabel("fraction correct")
    ax.set_title("Hybrid score calibration (fit: BANKING77 dev)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = ROOT / "bench" / "results" / "retrieval_calibration.png"
    fig.savefig(png, dpi=120)
    md = "\n".join(
        [
            "### Score calibration",
            "",
            f"Logistic curve P(relevant) = sigmoid({fitted.slope} x evidence + {fitted.intercept}), evidence = dense "
            "cosine + gated share of normalised BM25, fitted on BANKING77 dev queries (never on the test sets below). "
            "ECE = expected calibration error of the top hit's score (10 bins).",
            "",
            table(["set", "queries", "P@1", "mean top score", "ECE", "mean top score, unanswerable"], rows),
            "",
            f"![calibration]({png.name})",
        ]
    )
    record("calibration", md, numbers)
    print(f"wrote bench/results/retrieval.md and {png.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
