"""Evaluation of the intent and sentiment classifiers: train on one CSV, score another, time single messages.

Shared by `assistant eval intents|sentiment` and bench/understanding.py, so the numbers in the
docs come from exactly the code the CLI runs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from assistant.engine.models import resolve_embedding_model
from assistant.engine.understanding.classifier import TextClassifier, TrainOptions
from assistant.engine.understanding.dataset import LabelledData, load_labelled_csv
from assistant.engine.understanding.encoder import Encoder
from assistant.engine.understanding.intent_model import (
    CALIBRATION_FRACTION,
    OOS_LABEL,
    OOS_MAX_IN_SCOPE_LOSS,
    OOS_SCORE,
    REFIT_ON_ALL_DATA,
    IntentModel,
    stratified_holdout,
)
from assistant.engine.understanding.sentiment import (
    SENTIMENT_LABELS,
    DefaultSentiment,
    normalise_sentiment_labels,
)
from assistant.engine.understanding.understanding import train_options

LATENCY_SAMPLE = 200


@dataclass
class EvalResult:
    metrics: dict[str, float | int | None]
    gold: list[str]
    predicted: list[str]
    labels: list[str] = field(default_factory=list)


def latency_p50(fn: Callable[[str], object], texts: list[str], n: int = LATENCY_SAMPLE) -> float:
    """Median wall-clock milliseconds of `fn` on single messages (after one warm-up call)."""
    return latency_p50s(fn, texts, n)[0]


def latency_p50s(fn: Callable[[str], object], texts: list[str], n: int = LATENCY_SAMPLE,
                 cpu_clock: Callable[[], float] = time.thread_time) -> tuple[float, float]:
    """(wall, CPU) median milliseconds per message.

    The CPU time of the calling thread is what the message costs when the cores are not shared
    (torch runs single-threaded work inline); on a busy machine wall time also counts waiting.
    Work handed to other threads needs `cpu_clock=time.process_time`.
    """
    sample = texts[:: max(1, len(texts) // n)][:n]
    fn(sample[0])
    wall, cpu = [], []
    for text in sample:
        started, cpu_started = time.perf_counter(), cpu_clock()
        fn(text)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((cpu_clock() - cpu_started) * 1000)
    return round(statistics.median(wall), 2), round(statistics.median(cpu), 2)


def classification_metrics(gold: list[str], predicted: list[str], oos_label: str | None = None) -> dict:
    metrics: dict[str, float | int | None] = {
        "n": len(gold),
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "macro_f1": round(float(f1_score(gold, predicted, average="macro", zero_division=0)), 4),
    }
    if oos_label is not None and oos_label in gold:
        g, p = np.array(gold), np.array(predicted)
        in_scope, oos = g != oos_label, g == oos_label
        metrics["in_scope_accuracy"] = round(float((p[in_scope] == g[in_scope]).mean()), 4)
        metrics["oos_recall"] = round(float((p[oos] == oos_label).mean()), 4)
        flagged = p == oos_label
        metrics["oos_precision"] = round(float((g[flagged] == oos_label).mean()), 4) if flagged.any() else 0.0
    return metrics


def load_encoder(embedding_model: str = "") -> Encoder:
    return Encoder(resolve_embedding_model(embedding_model))


def evaluate_intents(train_path: Path, test_path: Path, encoder: Encoder | str = "", progress: bool = True,
                     options: TrainOptions | None = None, refit: bool = REFIT_ON_ALL_DATA,
                     oos_score: str = OOS_SCORE) -> tuple[EvalResult, IntentModel]:
    """Train as the app does (`options`, `refit`, `oos_score` differ only in variant runs) and test.

    `encoder`: a loaded Encoder or an embedding-model spec; it is loaded only after the CSVs validate.
    """
    train = load_labelled_csv(train_path, min_per_label=2)
    test = load_labelled_csv(test_path)
    encoder = encoder if isinstance(encoder, Encoder) else load_encoder(encoder)
    model = IntentModel.train(train, encoder, options or train_options(progress), oos_label=OOS_LABEL,
                              calibration_fraction=CALIBRATION_FRACTION, refit=refit, oos_score=oos_score,
                              max_in_scope_loss=OOS_MAX_IN_SCOPE_LOSS)
    predicted = model.predict(test.texts)
    metrics = classification_metrics(test.labels, predicted, OOS_LABEL)
    metrics["train_seconds"] = model.meta["train_seconds"]
    metrics["train_cpu_seconds"] = model.meta["train_cpu_seconds"]
    metrics["oos_threshold"] = round(model.threshold, 4)
    metrics["oos_score"] = model.oos_score  # what the threshold is compared with
    metrics["ensemble_weight"] = model.classifier.weight

    def one(text: str) -> object:
        return model.classify_one(text)

    metrics["latency_ms_p50"], metrics["latency_cpu_ms_p50"] = latency_p50s(one, test.texts)
    labels = sorted(set(test.labels) | set(predicted))
    return EvalResult(metrics, test.labels, predicted, labels), model


def train_sentiment(train: LabelledData, encoder: Encoder, progress: bool = True,
                    options: TrainOptions | None = None) -> TextClassifier:
    labels = normalise_sentiment_labels(train.labels, train.source)
    rows, held = stratified_holdout(labels, CALIBRATION_FRACTION)
    return TextClassifier.fit(
        encoder, [train.texts[i] for i in rows], [labels[i] for i in rows], options or train_options(progress),
        [train.texts[i] for i in held], [labels[i] for i in held])


def evaluate_sentiment(test_path: Path, train_path: Path | None = None, encoder: Encoder | str = "",
                       progress: bool = True, options: TrainOptions | None = None) -> EvalResult:
    test = load_labelled_csv(test_path)
    gold = normalise_sentiment_labels(test.labels, str(test_path))
    train = load_labelled_csv(train_path, min_per_label=2) if train_path is not None else None
    if train is not None:
        normalise_sentiment_labels(train.labels, str(train_path))
    encoder = encoder if isinstance(encoder, Encoder) else load_encoder(encoder)
    started = time.perf_counter()
    if train is not None:
        model = train_sentiment(train, encoder, progress, options)
        train_seconds = time.perf_counter() - started
        probs = model.predict_proba(test.texts)
        predicted = [model.labels[i] for i in probs.argmax(1)]

        def one(text: str) -> object:
            return model.predict_proba_one(text)
    else:
        default = DefaultSentiment(encoder)
        train_seconds = 0.0
        predicted = default.predict(encoder, test.texts)

        def one(text: str) -> object:
            return default.analyze(text, encoder.embed_one(text))

    metrics = classification_metrics(gold, predicted)
    g, p = np.array(gold), np.array(predicted)
    for label in SENTIMENT_LABELS:  # per-label recall: what an operator misses of each kind
        metrics[f"{label}_recall"] = round(float(np.mean(p[g == label] == label)), 4) if (g == label).any() else None
    # plain messages read as negative: each one can hand a customer to a person for nothing
    metrics["neutral_read_negative"] = round(float(np.mean(p[g == "neutral"] == "negative")), 4) \
        if (g == "neutral").any() else None
    metrics["model"] = "trained" if train_path is not None else "default"
    metrics["train_seconds"] = round(train_seconds, 2)
    metrics["latency_ms_p50"], metrics["latency_cpu_ms_p50"] = latency_p50s(one, test.texts)
    return EvalResult(metrics, gold, predicted, sorted(set(gold) | set(predicted)))
