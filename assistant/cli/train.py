"""`assistant train intents --data CSV` and `assistant train sentiment --data CSV`: train and save a model folder.

The intent model goes to settings.understanding.intent_model_dir (default data_dir/intent-model)
and the sentiment head to data_dir/sentiment-model, where `Understanding.from_settings` finds them.
"""

from __future__ import annotations

from pathlib import Path

import typer

from assistant.cli.common import (
    EpochsOption,
    JsonFlag,
    ThreadsOption,
    build_settings,
    fail,
    print_json_last,
    set_threads,
)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    train_app = typer.Typer(help="Train the intent or sentiment classifier from a labelled CSV.", no_args_is_help=True)
    app.add_typer(train_app, name="train")

    @train_app.command("intents")
    def train_intents(
        data: Path = typer.Option(..., "--data", help="CSV with a header: text, intent (label 'oos' = out of scope)."),
        out: Path = typer.Option(None, "--out", help="Model folder. Default: the configured intent model folder."),
        epochs: EpochsOption = None,
        threads: ThreadsOption = 1,
        as_json: JsonFlag = False,
    ) -> None:
        """Train the intent classifier (fine-tuned MiniLM + TF-IDF, calibrated out-of-scope threshold)."""
        from assistant.engine.understanding.dataset import DataError
        from assistant.engine.understanding.evaluation import load_encoder
        from assistant.engine.understanding.understanding import train_intent_model

        settings = build_settings()
        set_threads(threads)
        folder = out or settings.understanding.intent_model_dir or settings.data_dir / "intent-model"
        try:
            model = train_intent_model(load_encoder(settings.retrieval.embedding_model), data,
                                       progress=not as_json, epochs=epochs)
        except DataError as exc:
            fail(str(exc))
        model.save(folder)
        summary = {"model_dir": str(folder), "labels": len(model.labels), "oos_threshold": round(model.threshold, 4),
                   "oos_score": model.oos_score,
                   **{k: v for k, v in model.meta.items() if k in ("n_train", "n_calibration", "train_seconds")}}
        typer.echo(f"saved intent model ({summary['labels']} intents) to {folder} in {summary['train_seconds']} s")
        if as_json:
            print_json_last(summary)

    @train_app.command("sentiment")
    def train_sentiment_cmd(
        data: Path = typer.Option(..., "--data", help="CSV with a header: text, label (negative/neutral/positive)."),
        out: Path = typer.Option(None, "--out", help="Model folder. Default: data_dir/sentiment-model."),
        epochs: EpochsOption = None,
        threads: ThreadsOption = 1,
        as_json: JsonFlag = False,
    ) -> None:
        """Train a sentiment head that replaces the shipped default."""
        import os
        import shutil
        import time

        from assistant.engine.understanding.dataset import DataError, load_labelled_csv
        from assistant.engine.understanding.evaluation import load_encoder, train_sentiment
        from assistant.engine.understanding.understanding import sentiment_model_dir, train_options

        settings = build_settings()
        set_threads(threads)
        folder = out or sentiment_model_dir(settings)
        started = time.perf_counter()
        try:
            train = load_labelled_csv(data, min_per_label=2)
            model = train_sentiment(train, load_encoder(settings.retrieval.embedding_model),
                                    options=train_options(not as_json, epochs))
        except (DataError, ValueError) as exc:
            fail(str(exc))
        seconds = round(time.perf_counter() - started, 2)
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save(tmp, {"kind": "sentiment", "train_seconds": seconds, "source": str(data)})
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        typer.echo(f"saved sentiment model to {folder} in {seconds} s")
        if as_json:
            print_json_last({"model_dir": str(folder), "train_seconds": seconds, "n_train": len(train)})
