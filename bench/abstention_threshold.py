"""The abstention threshold (understanding.min_retrieval_score) across knowledge bases, not on one.

    python bench/abstention_threshold.py        # writes the "abstention" part of bench/results/retrieval.md + a PNG

For each knowledge base (the sample store, BANKING77's FAQ, the two zoomcamp course FAQs) every answerable
question and CLINC150's out-of-scope questions (train and val, 100 each) are searched once; the sweep then
reports, per threshold, the share of answerable questions whose top hit clears it and the share of
out-of-scope ones that it stops. The default is the lowest threshold that stops at least 95% of CLINC's
out-of-scope *train* questions on every knowledge base (one in twenty at most is answered from a page that
happened to be closest); val is reported beside it, never used to choose.
Retrieval only: the turn's other exits (small talk, templates, an FAQ entry with no usable answer) come on top.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.retrieval_fusion import SETS  # noqa: E402
from bench.retrieval_report import record  # noqa: E402
from retrieval import RetrievalConfig, Retriever  # noqa: E402
from retrieval.evaluation import load_kb, load_queries  # noqa: E402

KBS = ("store", "banking77 dev", "zoomcamp data-engineering", "zoomcamp mlops")
THRESHOLDS = (0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.10)
CLINC = ROOT.parent / "shared" / "data" / "clinc150"


def out_of_scope(split: str) -> list[str]:
    with (CLINC / f"{split}.csv").open(encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f) if row["intent"] == "oos"]


def top_scores(model: str, kb: Path, questions: list[str]) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        retriever = Retriever.open(Path(tmp), model, RetrievalConfig())
        retriever.add_documents(load_kb(kb), progress=False)
        scores = np.array([max((h.score for h in retriever.search(q, 4)), default=0.0) for q in questions])
        retriever.close()
    return scores


def main() -> None:
    from tqdm.auto import tqdm

    from assistant.engine.models import resolve_embedding_model
    from assistant.engine.understanding.config import UnderstandingConfig

    model = resolve_embedding_model("")
    oos = {split: out_of_scope(split) for split in ("train", "val")}
    rows, curves = [], {}
    for name in tqdm(KBS, desc="knowledge bases", unit="kb"):
        kb, queries = SETS[name]
        answerable = [q.query for q in load_queries(queries) if q.relevant]
        scores = top_scores(model, kb, answerable + oos["train"] + oos["val"])
        ans, train, val = np.split(scores, [len(answerable), len(answerable) + len(oos["train"])])
        curves[name] = ([float(np.mean(ans >= t)) for t in THRESHOLDS], [float(np.mean(train < t)) for t in THRESHOLDS])
        for t in THRESHOLDS:
            rows.append((name, t, float(np.mean(ans >= t)), float(np.mean(train < t)), float(np.mean(val < t))))
    shipped = UnderstandingConfig().min_retrieval_score
    lines = ["| knowledge base | threshold | answerable cleared | out-of-scope stopped (train) | (val) |",
             "|---|---|---|---|---|"]
    lines += [f"| {n} | {t}{' (default)' if t == shipped else ''} | {a:.3f} | {tr:.3f} | {v:.3f} |"
              for n, t, a, tr, v in rows]
    png = ROOT / "bench" / "results" / "abstention_threshold.png"
    plot(curves, shipped, png)
    record("abstention", "\n".join([
        "### Abstention threshold across knowledge bases",
        "",
        "Answerable: each set's own questions; out of scope: CLINC150 `oos`, train chooses and val checks.",
        "",
        *lines, "", f"![answered and stopped by threshold]({png.name})"]),
        {f"{n} {t}": {"answerable": a, "oos_train": tr, "oos_val": v} for n, t, a, tr, v in rows})
    print("\n".join(lines))


def plot(curves: dict[str, tuple[list[float], list[float]]], shipped: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, (answered, stopped)), color in zip(curves.items(), plt.cm.tab10.colors, strict=False):
        ax.plot(THRESHOLDS, answered, marker="o", color=color, label=f"{name}: answerable cleared")
        ax.plot(THRESHOLDS, stopped, marker="x", ls="--", color=color, label=f"{name}: out-of-scope stopped")
    ax.axvline(shipped, color="black", lw=1, ls=":", label=f"default {shipped}")
    ax.set_xlabel("min_retrieval_score")
    ax.set_ylim(0.6, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
