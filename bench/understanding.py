"""Understanding benchmark: intents (BANKING77, CLINC150), sentiment (airline 5-fold CV + shipped default), latency.

    .venv/bin/python bench/understanding.py --part banking77|clinc150|airline|latency|all [--data ../shared/data]

Each part runs the same code as `assistant eval intents|sentiment`, stores its numbers (with date,
machine, load average and command) in bench/results/understanding.json, and every run rewrites
bench/results/understanding.md from that file, so parts can be run separately on a busy machine.
The airline data is non-commercial: only numbers are written, never a model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine.understanding import classifier  # noqa: E402
from assistant.engine.understanding import understanding as understanding_module  # noqa: E402
from assistant.engine.understanding.classifier import TextClassifier  # noqa: E402
from assistant.engine.understanding.confusion import plot_confusion  # noqa: E402
from assistant.engine.understanding.dataset import load_labelled_csv  # noqa: E402
from assistant.engine.understanding.evaluation import (  # noqa: E402
    evaluate_intents,
    latency_p50,
    latency_p50s,
    load_encoder,
)
from assistant.engine.understanding.intent_model import stratified_holdout  # noqa: E402
from assistant.engine.understanding.sentiment import (  # noqa: E402
    DefaultSentiment,
    normalise_sentiment_labels,
)
from assistant.engine.understanding.understanding import train_options  # noqa: E402

OUT_JSON = ROOT / "bench" / "results" / "understanding.json"
OUT_MD = ROOT / "bench" / "results" / "understanding.md"
PLOTS = ROOT / "bench" / "results"


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(os.sysconf("SC_PAGE_SIZE")
                                                                   * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "load_start": round(os.getloadavg()[0], 1)}


def use_recipe(epochs: int | None, finetune_layers: int | None, refit: bool, oos_score: str | None) -> dict:
    """Replace the training constants the app reads (a variant run) and return the recipe now in force."""
    if epochs is not None:
        classifier.FINETUNE_EPOCHS = epochs
    if finetune_layers is not None:
        classifier.FINETUNE_LAYERS = finetune_layers
    understanding_module.REFIT_ON_ALL_DATA = refit
    if oos_score:
        understanding_module.OOS_SCORE = oos_score
    return {"finetune_epochs": classifier.FINETUNE_EPOCHS, "finetune_layers": classifier.FINETUNE_LAYERS,
            "refit_on_all_data": understanding_module.REFIT_ON_ALL_DATA, "oos_score": understanding_module.OOS_SCORE,
            "oos_max_in_scope_loss": understanding_module.OOS_MAX_IN_SCOPE_LOSS}


def part_intents(name: str, train: Path, test: Path) -> dict:
    result, _ = evaluate_intents(train, test, refit=understanding_module.REFIT_ON_ALL_DATA,
                                 oos_score=understanding_module.OOS_SCORE)
    plot = PLOTS / f"understanding-{name}.png"
    plot_confusion(result.gold, result.predicted, result.labels, plot, f"{name}: {test.name}")
    return {**result.metrics, "plot": str(plot.relative_to(ROOT))}


def part_airline(data: Path, folds: int = 5) -> dict:
    path = data / "airline_sentiment" / "train.csv"
    train = load_labelled_csv(path, min_per_label=2)
    labels = normalise_sentiment_labels(train.labels, str(path))
    encoder = load_encoder()
    options = train_options()
    started = time.perf_counter()
    # the frozen layers do not depend on the fold: run them once for all tweets
    states = encoder.lower_rows(train.texts, encoder.n_layers - options.finetune_layers)
    cache_seconds = time.perf_counter() - started
    default = DefaultSentiment(encoder)
    if options.finetune_layers == 0:  # the cache already holds final-layer states: reuse them
        embeddings = np.stack([s.mean(0).numpy() for s in states])
        default_pred = [default.labels[i] for i in default.proba(train.texts, embeddings).argmax(1)]
    else:
        default_pred = default.predict(encoder, train.texts)
    default_ms = latency_p50(lambda text: default.analyze(text, encoder.embed_one(text)), train.texts)
    accuracies, f1s, gold_all, pred_all = [], [], [], []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for fold, (train_rows, test_rows) in enumerate(tqdm(list(splitter.split(train.texts, labels)), desc="folds")):
        fold_labels = [labels[i] for i in train_rows]
        keep, held = stratified_holdout(fold_labels, understanding_module.CALIBRATION_FRACTION, seed=fold)
        rows, held_rows = train_rows[keep], train_rows[held]
        model = TextClassifier.fit(
            encoder, [train.texts[i] for i in rows], [labels[i] for i in rows], options,
            [train.texts[i] for i in held_rows], [labels[i] for i in held_rows],
            states=[states[i] for i in rows], calib_states=[states[i] for i in held_rows])
        probs = model.predict_proba([train.texts[i] for i in test_rows], [states[i] for i in test_rows])
        predicted = [model.labels[i] for i in probs.argmax(1)]
        gold = [labels[i] for i in test_rows]
        accuracies.append(float(accuracy_score(gold, predicted)))
        f1s.append(float(f1_score(gold, predicted, average="macro")))
        gold_all += gold
        pred_all += predicted
        print(f"fold {fold + 1}: accuracy {accuracies[-1]:.4f} (weight {model.weight})", flush=True)
    plot = PLOTS / "understanding-airline-cv.png"
    plot_confusion(gold_all, pred_all, ["negative", "neutral", "positive"], plot, "Airline sentiment, 5-fold CV")
    return {
        "cv_accuracy": round(statistics.mean(accuracies), 4), "cv_accuracy_std": round(statistics.stdev(accuracies), 4),
        "cv_macro_f1": round(statistics.mean(f1s), 4), "fold_accuracies": [round(a, 4) for a in accuracies],
        "cv_seconds": round(time.perf_counter() - started, 1),         "cache_seconds": round(cache_seconds, 1),
        "default_accuracy": round(float(accuracy_score(labels, default_pred)), 4),
        "default_macro_f1": round(float(f1_score(labels, default_pred, average="macro")), 4),
        "default_latency_ms_p50": default_ms, "plot": str(plot.relative_to(ROOT)),
    }


def part_clinc_cv(data: Path, folds: int = 5) -> dict:
    """The out-of-scope threshold's spread: the shipped recipe (its own held-out slice, threshold, refit) trained on
    each 4/5 of CLINC150 train, each model tested on val. The threshold never sees val."""
    import csv

    train = load_labelled_csv(data / "clinc150" / "train.csv", min_per_label=2)
    encoder = load_encoder()
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    per_fold = []
    with tempfile.TemporaryDirectory() as tmp:
        for fold, (keep, _) in enumerate(tqdm(list(splitter.split(train.texts, train.labels)), desc="folds")):
            path = Path(tmp) / f"fold{fold}.csv"
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(["text", "intent"])
                writer.writerows((train.texts[i], train.labels[i]) for i in keep)
            result, _ = evaluate_intents(path, data / "clinc150" / "val.csv", encoder, progress=False,
                                         refit=understanding_module.REFIT_ON_ALL_DATA,
                                         oos_score=understanding_module.OOS_SCORE)
            m = result.metrics
            per_fold.append({k: m[k] for k in ("in_scope_accuracy", "oos_recall", "oos_precision", "oos_threshold")})
            print(f"fold {fold + 1}: {per_fold[-1]}", flush=True)
    out: dict = {"folds": folds}
    for key in ("in_scope_accuracy", "oos_recall", "oos_threshold"):
        values = [row[key] for row in per_fold]
        out[f"{key}_mean"], out[f"{key}_std"] = round(statistics.mean(values), 4), round(statistics.stdev(values), 4)
        out[f"{key}_min"], out[f"{key}_max"] = min(values), max(values)
    return out


def part_latency() -> dict:
    import asyncio

    from assistant.engine.facade import Assistant
    from assistant.engine.settings import Settings
    from assistant.engine.understanding import Understanding
    from assistant.engine.understanding.understanding import SAMPLE_INTENTS

    with tempfile.TemporaryDirectory() as tmp:
        # the fake engine: a template reply never generates, and a reply that would is not what is timed here
        settings = Settings(data_dir=Path(tmp), engine={"backend": "fake"})  # first start trains with the recipe
        started = time.perf_counter()
        understanding = Understanding.from_settings(settings)
        first_start = time.perf_counter() - started
        started = time.perf_counter()
        Understanding.from_settings(settings, progress=False)
        warm_start = time.perf_counter() - started
        texts = load_labelled_csv(SAMPLE_INTENTS).texts
        classify_ms, classify_cpu_ms = latency_p50s(understanding.classify, texts)
        template_texts = ["Where is my order #NW-48213?", "what are your opening hours?", "hi there!",
                          "which payment methods do you accept?", "how do I reset my password"] * 20
        routes = []
        # end to end through the facade: understanding, the template, retrieval corroborating it (the sample
        # help centre is ingested at first start) and the turn written to the SQLite store
        assistant = Assistant.from_settings(settings, progress=False)
        loop = asyncio.new_event_loop()
        loop.run_until_complete(assistant.start())

        def template_reply(text: str) -> object:
            reply = loop.run_until_complete(assistant.chat(text))
            routes.append(reply.route)
            return reply

        template_ms, template_cpu_ms = latency_p50s(template_reply, template_texts, n=len(template_texts),
                                                     cpu_clock=time.process_time)
        loop.run_until_complete(assistant.close())
        loop.close()
        # the peer in the same run: the same models on the PyTorch path (no live ONNX graph)
        intents, live = understanding._current
        understanding._current = (intents, None)
        torch_ms, _ = latency_p50s(understanding.classify, texts)
    return {"classify_ms_p50": classify_ms, "classify_cpu_ms_p50": classify_cpu_ms,
            "live_runtime": "onnx" if live is not None else "torch", "classify_torch_path_ms_p50": torch_ms,
            "template_reply_ms_p50": template_ms, "template_reply_cpu_ms_p50": template_cpu_ms,
            "template_route_share": round(routes.count("template") / len(routes), 3),
            "first_start_seconds": round(first_start, 1), "warm_start_seconds": round(warm_start, 1)}


NOTES = """### Notes

- Wall-clock times here were taken while other jobs kept the 2 cores busy (load averages are listed per part);
  `train_cpu_seconds` and the `cpu_ms` latencies are this process's own CPU time, i.e. roughly what the work
  takes on an idle core with `--threads 1`. Training on full BANKING77 took 5.5 CPU-minutes (3 epochs).
- Per-message latency (intent + sentiment) is measured on a quiet machine with `--threads 2` (the target's 2
  cores): the live path runs the base MiniLM, the intent model's fine-tuned layers and the sentiment input as one
  float32 ONNX Runtime graph plus a direct TF-IDF scorer (same decisions as the torch path, tested);
  `classify_torch_path_ms_p50` is the PyTorch path in the same run. The `cpu_ms` figures count the calling
  thread only, so with 2 threads they understate the total CPU time.
- The template reply is timed end to end through the `Assistant` facade (since 2026-11-24): classification, the
  template, the retrieval that corroborates it over the ingested sample help centre
  (`policy.CORROBORATE_TEMPLATES`), and the turn written to SQLite. Its CPU figure is the whole process's
  (ONNX Runtime's worker threads included). Before that change it timed classification + template choice only
  (6.95 ms, 2026-11-23).
- BANKING77 was measured with 2 and 3 fine-tuning epochs (3 became the default), and with / without the refit on
  all training rows (`refit_on_all_data`, default on): 93.99 held-out model, 94.42 refit.
- CLINC150 at the shipped default (3 epochs, refit, threshold on the best in-scope logit, at most 0.3 points of
  held-out in-scope accuracy traded): in-scope 96.23, out-of-scope recall 81.0, both targets met. The sections
  marked "(probability, 0.01 loss)" are the earlier rule (threshold on the probability, 1 point traded): 96.47 /
  59.0 refit, 96.57 / 52.0 without the refit; with 2 epochs and no refit 95.37 / 75.0. A saturated probability
  cannot tell confident out-of-scope messages from in-scope ones; the logit can (section "Out-of-scope score:
  which number the threshold applies to" in docs/benchmarks.md).
- The out-of-scope threshold is calibrated on TRAIN's held-out slice (never on val/test).
- Top 4 encoder layers fine-tuned instead of 2 (`--finetune-layers 4`, 2026-11-24): CLINC150 in-scope 96.37 /
  out-of-scope 82.0 (default: 96.23 / 81.0), BANKING77 94.16 (default: 94.42), training 493 s and 465 s
  (default: 474 s and 360 s). One up, one down, by 4 and 8 test messages: the default stays at 2.
- Airline sentiment: the CV row is the shipped configuration, the top 2 encoder layers fine-tuned per fold
  (`--part airline`: 84.15, 2026-11-23, 52 min on 2 cores); the frozen encoder (`--finetune-layers 0 --epochs 10`:
  cosine head + TF-IDF) gave 83.04. Both are short of 86. The default sentiment (a head trained on plain requests and VADER's
  rated sentences, never on tweets; section "Sentiment: the shipped default") is scored here for reference only.
  All 6 layers fine-tuned, first CV fold only (a one-off probe, same split, seed and 3 epochs; 8 min):
  85.54 against 85.07 for the shipped 2 layers on that fold, +0.47 where +1.85 on average is needed, so the
  full CV was not run and the default was not changed.
  A larger encoder, all-mpnet-base-v2 (the only other sentence encoder found by searching PyPI's package names,
  uploaded in five parts), mixed with the shipped model on the same folds: 84.92 (+0.77), still short; section
  "A second sentence encoder" below.
- understanding-airline-cv.png is the confusion matrix of the latest airline run (the fine-tuned one).
- The airline data is CC BY-NC-SA: only these numbers are kept, no model trained on it is saved or shipped.
"""


def fmt(value: object, pct: bool = True) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and pct:
        return f"{100 * value:.2f}"
    return str(value)


def render(results: dict) -> str:
    lines = ["## Understanding: intents, out of scope, sentiment, templates", "",
             "Method: MiniLM (all-MiniLM-L6-v2) with its top 2 layers fine-tuned (3 epochs, cross-entropy, cosine "
             "head) on cached frozen lower layers, mixed with a TF-IDF word+char n-gram logistic regression; the "
             "mix weight and the out-of-scope threshold are chosen on a 10% slice held out of TRAIN (30% of the "
             "`oos` examples), then the model is trained again on all of TRAIN keeping both (refit). The threshold "
             "applies to the head's best in-scope logit (not its saturated probability) and may give up at most "
             "0.3 points of held-out in-scope accuracy (0.3 chosen on CLINC150 val). Sentiment default: a small "
             "head over MiniLM + VADER, trained on licensed plain requests and rated sentences (bench/sentiment_head.py).",
             "", "| measure | anchor | floor | target | measured |", "| --- | --- | --- | --- | --- |"]
    def pick(name: str) -> dict:
        keys = [k for k in results if k.split(" ")[0] == name]
        return results[name if name in results else keys[0]]["metrics"] if keys else {}

    b, c, a, lat = (pick(k) for k in ("banking77", "clinc150", "airline", "latency"))
    lines += [
        f"| BANKING77 test accuracy | BERT-large 93.66 | 92.95 | ≥ 94.0 | {fmt(b.get('accuracy'))} |",
        f"| CLINC150 in-scope accuracy (train → val) | BERT 96.9 | ≈ 95.3 | ≥ 96 | {fmt(c.get('in_scope_accuracy'))} |",
        f"| CLINC150 out-of-scope recall | BERT 40, Rasa 66 | ≈ 41 | ≥ 75 | {fmt(c.get('oos_recall'))} |",
        f"| airline sentiment, 5-fold CV on train | RoBERTa ≈ 84.6 | ≈ 82.3 | ≥ 86 | {fmt(a.get('cv_accuracy'))} |",
        f"| intent + sentiment, one message (ms p50: wall / CPU) | — | — | ≤ 10 | "
        f"{fmt(lat.get('classify_ms_p50'), False)} / {fmt(lat.get('classify_cpu_ms_p50'), False)} |",
        f"| template reply end to end (ms p50: wall / CPU) | — | — | ≤ 50 | "
        f"{fmt(lat.get('template_reply_ms_p50'), False)} / {fmt(lat.get('template_reply_cpu_ms_p50'), False)} |",
        "",
    ]
    for key, entry in results.items():
        metrics = entry["metrics"]
        lines += [f"### {key}", "", f"- date: {entry['date']}; command: `{entry['command']}`",
                  f"- machine: {entry['machine']['cpu']}, {entry['machine']['cores']} cores, "
                  f"{entry['machine']['ram_gib']} GiB; load average {entry['machine']['load_start']} at start, "
                  f"{entry.get('load_end', '?')} at end (above ~2, other jobs shared the cores and wall times are inflated)",
                  "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in metrics.items() if k != "plot"]
        if "plot" in metrics:
            lines += ["", f"![{key} confusion matrix]({Path(metrics['plot']).name})"]
        lines.append("")
    lines.append(NOTES)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="all",
                        choices=["banking77", "clinc150", "clinc150-cv", "airline", "latency", "all"])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = all cores)")
    parser.add_argument("--epochs", type=int, default=None, help="override finetune_epochs (variant run)")
    parser.add_argument("--finetune-layers", type=int, default=None, help="override finetune_layers (variant run)")
    parser.add_argument("--no-refit", action="store_true", help="keep the model trained without the held-out slice")
    parser.add_argument("--oos-score", choices=["max_logit", "probability"], default=None,
                        help="override intent_model.OOS_SCORE (variant run)")
    args = parser.parse_args()
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    overrides = {k: v for k, v in (("finetune_epochs", args.epochs), ("finetune_layers", args.finetune_layers))
                 if v is not None}
    config = use_recipe(args.epochs, args.finetune_layers, not args.no_refit, args.oos_score)
    variant = "".join(f" --{k.replace('finetune_', '').replace('_', '-')} {v}" for k, v in overrides.items())
    variant = variant.replace("--layers", "--finetune-layers") + (" --no-refit" if args.no_refit else "")
    variant += f" --oos-score {args.oos_score}" if args.oos_score else ""
    parts = ["banking77", "clinc150", "airline", "latency"] if args.part == "all" else [args.part]
    for part in parts:
        info = {"date": dt.date.today().isoformat(), "machine": machine(),
                "command": f".venv/bin/python bench/understanding.py --part {part} --threads {args.threads}{variant}",
                "config": config}
        if part == "banking77":
            metrics = part_intents(part, args.data / "banking77" / "train.csv", args.data / "banking77" / "test.csv")
        elif part == "clinc150":
            metrics = part_intents(part, args.data / "clinc150" / "train.csv", args.data / "clinc150" / "val.csv")
        elif part == "clinc150-cv":
            metrics = part_clinc_cv(args.data)
        elif part == "airline":
            metrics = part_airline(args.data)
        else:
            metrics = part_latency()
        info["metrics"] = metrics
        info["load_end"] = round(os.getloadavg()[0], 1)
        print(json.dumps({part: metrics}), flush=True)
        # re-read: other parts may have finished in parallel runs since we started
        results = json.loads(OUT_JSON.read_text()) if OUT_JSON.exists() else {}
        part_key = "clinc150 (5 folds of train, each tested on val)" if part == "clinc150-cv" else part
        key = part_key if not overrides else f"{part_key} (finetune_layers={config['finetune_layers']}, " \
                                          f"epochs={config['finetune_epochs']})"
        if args.no_refit:
            key += " (no refit)"
        if args.oos_score:
            key += f" (oos_score={args.oos_score})"
        results[key] = info
        OUT_JSON.write_text(json.dumps(results, indent=2))
        ordered = {k: results[k] for name in ("banking77", "clinc150", "airline", "latency")
                   for k in sorted(results) if k.split(" ")[0] == name}
        OUT_MD.write_text(render(ordered) + "\n")


if __name__ == "__main__":
    main()
