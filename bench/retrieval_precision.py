"""Float32 vs int8 query and passage vectors: how far the calibrated score moves, and which answers flip.

    python bench/retrieval_precision.py [--limit N]

For each eval set, the same knowledge base is indexed twice, once with the float32 ONNX Runtime
MiniLM (`onnx`, the CPU default) and once with its dynamically quantised int8 graph (`onnx-int8`),
and every query is searched in both. Reported per set: P@1 of each, how often the top page
differs, the score shift of the top hit, and how many queries land on the other side of
`understanding.min_retrieval_score` (the abstention threshold), i.e. answer under one runtime and
abstain under the other. int8 activations are quantised per call and ONNX Runtime picks its int8
kernels by instruction set, so the int8 column is this machine's; the CPU's VNNI flags are recorded.
Writes part "precision" of bench/results/retrieval.md and bench/results/retrieval_precision.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.retrieval_report import record, table  # noqa: E402
from retrieval import RetrievalConfig, Retriever  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.evaluation import load_kb, load_queries  # noqa: E402

DATA = ROOT / "bench" / "data"
SETS = {
    "store": ("store_kb.jsonl", "store_eval_queries.jsonl"),
    "banking77_faq": ("banking77_faq_kb.jsonl", "banking77_faq_queries.jsonl"),
}
RUNTIMES = ("onnx", "onnx-int8")
PNG = ROOT / "bench" / "results" / "retrieval_precision.png"


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = set(next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []))
    return ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in flags) or "none of avx2/avx512/vnni"


def top_hits(embedder: Embedder, kb: Path, queries: list, progress: bool) -> tuple[np.ndarray, list[str]]:
    """Calibrated score and doc id of each query's top hit (0.0 and "" when nothing is found)."""
    with tempfile.TemporaryDirectory() as tmp:
        r = Retriever.open(Path(tmp), embedder.spec, RetrievalConfig(), embedder=embedder)
        r.add_documents(load_kb(kb), progress=progress)
        scores, docs = [], []
        for q in queries:
            hits = r.search(q.query, 1)
            scores.append(hits[0].score if hits else 0.0)
            docs.append(hits[0].doc_id if hits else "")
    return np.asarray(scores), docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="Queries per set (the first N); 0 = all.")
    args = parser.parse_args()
    from assistant.engine.models import resolve_embedding_model
    from assistant.engine.understanding.config import UnderstandingConfig

    threshold = UnderstandingConfig().min_retrieval_score
    embedders = {rt: Embedder(resolve_embedding_model(""), backend=rt) for rt in RUNTIMES}
    rows, numbers, points = [], {}, {}
    for name, (kb_file, q_file) in SETS.items():
        queries = load_queries(DATA / q_file)[: args.limit or None]
        got = {rt: top_hits(e, DATA / kb_file, queries, progress=True) for rt, e in embedders.items()}
        (s32, d32), (s8, d8) = got["onnx"], got["onnx-int8"]
        answerable = np.array([bool(q.relevant) for q in queries])
        p1 = {rt: float(np.mean([d in q.relevant for d, q, a in zip(got[rt][1], queries, answerable, strict=True) if a]))
              for rt in RUNTIMES}
        shift = np.abs(s8 - s32)
        flips = int(np.sum((s32 >= threshold) != (s8 >= threshold)))
        top_changed = int(sum(a != b for a, b in zip(d32, d8, strict=True)))
        rows.append([name, len(queries), f"{p1['onnx']:.3f}", f"{p1['onnx-int8']:.3f}", top_changed,
                     f"{np.median(shift):.4f}", f"{shift.max():.4f}", flips])
        numbers[name] = {"queries": len(queries), "p_at_1": p1, "top_page_changed": top_changed,
                         "score_shift_median": float(np.median(shift)), "score_shift_max": float(shift.max()),
                         "threshold_flips": flips}
        points[name] = (s32, s8)
        print(rows[-1], flush=True)
    plot(points, threshold)
    md = "\n".join([
        "### Float32 vs int8 embeddings: score shifts and flipped abstentions",
        "",
        f"Each set indexed and searched with the float32 ONNX Runtime MiniLM (`onnx`, the CPU default) and its "
        f"int8 graph (`onnx-int8`); top hit of each query ({'first ' + str(args.limit) if args.limit else 'all'} "
        "queries of each set). Flipped: the top "
        f"calibrated score is on different sides of `understanding.min_retrieval_score` ({threshold}), so the "
        f"turn answers under one runtime and abstains under the other. CPU flags: {cpu_flags()}.",
        "",
        table(["eval set", "queries", "P@1 float32", "P@1 int8", "top page differs", "score shift median",
               "score shift max", "flipped at the threshold"], rows),
        "",
        "![float32 vs int8 top scores](retrieval_precision.png)",
    ])
    record("precision", md, numbers)


def plot(points: dict[str, tuple[np.ndarray, np.ndarray]], threshold: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(points), figsize=(5 * len(points), 4.6))
    for ax, (name, (s32, s8)) in zip(np.atleast_1d(axes), points.items(), strict=True):
        flip = (s32 >= threshold) != (s8 >= threshold)
        ax.scatter(s32[~flip], s8[~flip], s=8, alpha=0.5, label="same decision")
        ax.scatter(s32[flip], s8[flip], s=30, color="red", label=f"flipped ({int(flip.sum())})")
        ax.axvline(threshold, color="grey", ls="--", lw=0.8)
        ax.axhline(threshold, color="grey", ls="--", lw=0.8)
        ax.plot([0, 1], [0, 1], color="black", lw=0.5)
        ax.set(xscale="log", yscale="log", xlim=(5e-3, 1), ylim=(5e-3, 1), title=name,
               xlabel="top calibrated score, float32", ylabel="top calibrated score, int8")
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"Abstention threshold {threshold} (dashed): red points answer under one runtime only")
    fig.tight_layout()
    fig.savefig(PNG, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
