"""Out-of-scope threshold cross-validated on CLINC150 train: how far it moves, and what each one gives on val.

    nice -n 15 .venv/bin/python bench/oos_cv.py --threads 2      (about 30 minutes on 2 shared cores, 5 folds)

The shipped trainer picks the out-of-scope threshold on ONE held-out slice of train. Here train is split
into k stratified folds; for each, the intent model is trained on the other folds exactly as
`assistant eval intents` trains it (shipped TrainOptions, no refit, frozen lower layers cached once for
all folds), the threshold is chosen on the held-out fold by the shipped rule (calibrate_oos_threshold,
max_logit score, OOS_MAX_IN_SCOPE_LOSS), and that model + threshold is then applied to CLINC150 val,
which chooses nothing. Writes bench/results/oos_cv.md and oos_cv.png; merge with `python bench/merge.py`.
`--max-folds 1` trains one fold only (to time it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine.models import resolve_embedding_model  # noqa: E402
from assistant.engine.understanding.classifier import TextClassifier  # noqa: E402
from assistant.engine.understanding.dataset import load_labelled_csv  # noqa: E402
from assistant.engine.understanding.encoder import Encoder  # noqa: E402
from assistant.engine.understanding.evaluation import classification_metrics  # noqa: E402
from assistant.engine.understanding.intent_model import (  # noqa: E402
    OOS_LABEL,
    OOS_MAX_IN_SCOPE_LOSS,
    OOS_SCORE,
    IntentModel,
)
from assistant.engine.understanding.oos import best_in_scope_logit, calibrate_oos_threshold  # noqa: E402
from assistant.engine.understanding.understanding import train_options  # noqa: E402

OUT_MD = ROOT / "bench" / "results" / "oos_cv.md"
SHIPPED = {"threshold": 9.912, "val_in": 0.9623, "val_oos": 0.81}  # docs/benchmarks.md, "Understanding" clinc150
TARGET_IN, TARGET_OOS = 0.96, 0.75


@dataclass
class Fold:
    threshold: float
    held_in: float
    held_oos: float
    val_in: float
    val_oos: float
    model: IntentModel
    val_probs: np.ndarray
    val_logits: np.ndarray


def decided(model: IntentModel, probs: np.ndarray, logits: np.ndarray, gold: list[str]) -> tuple[float, float]:
    """(in-scope accuracy, oos recall) through IntentModel.decide, the product's per-message rule."""
    predicted = [model.decide(p, z).intent or OOS_LABEL for p, z in zip(probs, logits, strict=True)]
    metrics = classification_metrics(gold, predicted, OOS_LABEL)
    return float(metrics["in_scope_accuracy"]), float(metrics["oos_recall"])


def spread(values: list[float]) -> tuple[float, float, float, float]:
    """mean, sample std (0 with one fold), min, max."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), std, min(values), max(values)


def plot(folds: list[Fold], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on the bench machine
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    panels = (("val in-scope accuracy", [f.val_in for f in folds], TARGET_IN, SHIPPED["val_in"]),
              ("val out-of-scope recall", [f.val_oos for f in folds], TARGET_OOS, SHIPPED["val_oos"]))
    for ax, (title, values, target, shipped) in zip(axes, panels, strict=True):
        ax.boxplot(values, widths=0.7, showfliers=False)
        # a small fixed jitter keeps equal values apart without randomness in the figure
        xs = 1 + np.linspace(-0.25, 0.25, len(values))
        ax.scatter(xs, values, zorder=3, color="tab:blue", label="one fold's threshold")
        for x, v, f in zip(xs, values, folds, strict=True):
            ax.annotate(f"{f.threshold:.1f}", (x, v), xytext=(4, 4), textcoords="offset points", fontsize=7)
        ax.axhline(target, color="tab:red", ls="--", lw=1, label="target")
        ax.axhline(shipped, color="black", ls=":", lw=1, label="shipped")
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.grid(alpha=0.3, axis="y")
    # one legend under both panels: inside an axis it hides the folds near a target line
    handles, _ = axes[0].get_legend_handles_labels()
    fig.legend(handles, ["one fold's threshold", "target", "shipped threshold 9.912 (refit model)"],
               loc="lower center", ncol=3, fontsize=7)
    fig.suptitle(f"CLINC150: threshold chosen on each of {len(folds)} train folds, applied to val "
                 "(labels: threshold)", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "clinc150")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-folds", type=int, default=0, help="train only the first N folds (timing)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started, load_start = time.perf_counter(), os.getloadavg()
    encoder = Encoder(resolve_embedding_model(""))
    data = load_labelled_csv(args.data / "train.csv", min_per_label=2)
    val = load_labelled_csv(args.data / "val.csv")
    # the shipped recipe; its own progress bar off so that the bar over folds stays readable
    options = train_options(progress=False)
    n_frozen = encoder.n_layers - options.finetune_layers
    # the frozen lower layers do not depend on the fold: run them once over train and val for every fold
    states = encoder.lower_rows(data.texts, n_frozen)
    val_states = encoder.lower_rows(val.texts, n_frozen, desc="caching val")
    splits = list(StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(data.texts, data.labels))
    splits = splits[: args.max_folds or None]
    pick = lambda rows, seq: [seq[i] for i in rows]  # noqa: E731
    folds: list[Fold] = []
    for train_rows, held_rows in tqdm(splits, desc="folds", unit="fold"):
        held_texts, held_labels = pick(held_rows, data.texts), pick(held_rows, data.labels)
        # as IntentModel.train without refit: the held-out fold also picks the mix weight
        clf = TextClassifier.fit(encoder, pick(train_rows, data.texts), pick(train_rows, data.labels), options,
                                 held_texts, held_labels, states=pick(train_rows, states),
                                 calib_states=pick(held_rows, states))
        model = IntentModel(clf, OOS_LABEL, 0.0, oos_score=OOS_SCORE)
        probs, logits = clf.scores(held_texts, pick(held_rows, states))
        index = {label: i for i, label in enumerate(clf.labels)}
        cal = calibrate_oos_threshold(probs, np.array([index[label] for label in held_labels]), model.oos_index,
                                      0.2, OOS_MAX_IN_SCOPE_LOSS, score=best_in_scope_logit(logits, model.oos_index))
        model.threshold = cal.threshold
        val_probs, val_logits = clf.scores(val.texts, val_states)
        folds.append(Fold(cal.threshold, *decided(model, probs, logits, held_labels),
                          *decided(model, val_probs, val_logits, val.labels), model, val_probs, val_logits))
    minutes = (time.perf_counter() - started) / 60

    def at(threshold: float) -> tuple[float, float]:
        """Mean val (in-scope, recall) of every fold's model with one common threshold."""
        results = []
        for f in folds:
            f.model.threshold = threshold
            results.append(decided(f.model, f.val_probs, f.val_logits, val.labels))
            f.model.threshold = f.threshold
        return statistics.mean(r[0] for r in results), statistics.mean(r[1] for r in results)

    median = sorted(folds, key=lambda f: f.threshold)[(len(folds) - 1) // 2]
    n_held_oos = len(splits[0][1]) - sum(1 for i in splits[0][1] if data.labels[i] != OOS_LABEL)
    n_val_in = sum(1 for label in val.labels if label != OOS_LABEL)
    lines = ["## Out-of-scope threshold, cross-validated on CLINC150 train: its spread on val", "",
             f"- date: {dt.datetime.now():%Y-%m-%d %H:%M} ({minutes:.0f} min)",
             f"- machine: {os.uname().machine}, {os.cpu_count()} cores, no GPU; load average "
             f"{load_start[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end",
             f"- command: `nice -n 15 .venv/bin/python bench/oos_cv.py --threads {args.threads} --folds {args.folds}"
             + (f" --max-folds {args.max_folds}`" if args.max_folds else "`"),
             f"- peer: the shipped single-slice threshold {SHIPPED['threshold']} (refit model): val in-scope "
             f"{SHIPPED['val_in']:.4f}, oos recall {SHIPPED['val_oos']:.2f}",
             f"- {args.folds} stratified folds (seed {args.seed}); each model trained on the other folds with the "
             f"shipped options, no refit; threshold by calibrate_oos_threshold (max_logit, in-scope loss "
             f"<= {OOS_MAX_IN_SCOPE_LOSS}) on the held-out fold ({len(splits[0][1]) - n_held_oos:,} in-scope, "
             f"{n_held_oos} oos); val ({n_val_in:,} in-scope, {len(val.labels) - n_val_in} oos) chooses nothing", "",
             "| fold | threshold | held-out in-scope | held-out oos recall | val in-scope | val oos recall |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {i + 1} | {f.threshold:.3f} | {f.held_in:.4f} | {f.held_oos:.2f} | {f.val_in:.4f} | "
              f"{f.val_oos:.2f} |" for i, f in enumerate(folds)]
    for name, fmt in (("mean ± std", "{0:.{p}f} ± {1:.{p}f}"), ("min / max", "{2:.{p}f} / {3:.{p}f}")):
        cells = [fmt.format(*spread([getattr(f, key) for f in folds]), p=p)
                 for key, p in (("threshold", 3), ("held_in", 4), ("held_oos", 2), ("val_in", 4), ("val_oos", 2))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    median_all, shipped_all = at(median.threshold), at(SHIPPED["threshold"])
    lines += ["", f"- median fold threshold {median.threshold:.3f} (fold {folds.index(median) + 1}): val in-scope "
              f"{median.val_in:.4f}, oos recall {median.val_oos:.2f} on its own model; on every fold's model, mean "
              f"val in-scope {median_all[0]:.4f}, oos recall {median_all[1]:.2f}",
              f"- the shipped threshold {SHIPPED['threshold']} on every fold's model: mean val in-scope "
              f"{shipped_all[0]:.4f}, oos recall {shipped_all[1]:.2f}",
              f"- folds meeting both targets on val (in-scope >= {TARGET_IN}, oos recall >= {TARGET_OOS}): "
              f"{sum(f.val_in >= TARGET_IN and f.val_oos >= TARGET_OOS for f in folds)} of {len(folds)}",
              "", "![val in-scope accuracy and oos recall per fold](../bench/results/oos_cv.png) "
              "(written by the run to bench/results/oos_cv.png)"]
    OUT_MD.parent.mkdir(parents=True, exist_ok=True)
    OUT_MD.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plot(folds, OUT_MD.with_suffix(".png"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
