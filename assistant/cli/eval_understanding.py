"""`assistant eval intents --train CSV --test CSV` and `assistant eval sentiment [--train CSV] --test CSV`.

Each prints a readable report; `--json` adds one JSON object as the last line of stdout and
`--plot PATH` writes a confusion-matrix PNG.
"""

from __future__ import annotations

from pathlib import Path

import typer

from assistant.cli.common import (
    EpochsOption,
    JsonFlag,
    PlotOption,
    ThreadsOption,
    build_settings,
    fail,
    print_json_last,
    set_threads,
)


def _report(title: str, metrics: dict) -> None:
    typer.echo(title)
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) and key not in ("train_seconds", "latency_ms_p50") else value
        typer.echo(f"  {key:<20} {shown}")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    @eval_app.command("intents")
    def eval_intents(
        train: Path = typer.Option(..., "--train", help="Training CSV (header; text, intent; 'oos' = out of scope)."),
        test: Path = typer.Option(..., "--test", help="Test CSV in the same format."),
        plot: PlotOption = None,
        epochs: EpochsOption = None,
        threads: ThreadsOption = 1,
        as_json: JsonFlag = False,
    ) -> None:
        """Train an intent model on TRAIN and report accuracy, macro-F1, out-of-scope recall/precision, latency."""
        from assistant.engine.understanding.confusion import plot_confusion
        from assistant.engine.understanding.dataset import DataError
        from assistant.engine.understanding.evaluation import evaluate_intents
        from assistant.engine.understanding.understanding import train_options

        settings = build_settings()
        set_threads(threads)
        try:
            result, _ = evaluate_intents(train, test, settings.retrieval.embedding_model, progress=not as_json,
                                         options=train_options(not as_json, epochs))
        except DataError as exc:
            fail(str(exc))
        _report(f"intents: train {train} -> test {test}", result.metrics)
        if plot:
            plot_confusion(result.gold, result.predicted, result.labels, plot, f"Intents: {test.name}")
            typer.echo(f"  confusion matrix -> {plot}")
        if as_json:
            print_json_last(result.metrics)

    @eval_app.command("sentiment")
    def eval_sentiment(
        test: Path = typer.Option(..., "--test", help="Test CSV (header; text, negative/neutral/positive)."),
        train: Path = typer.Option(None, "--train", help="Train a head on this CSV; without it the shipped default."),
        plot: PlotOption = None,
        epochs: EpochsOption = None,
        threads: ThreadsOption = 1,
        as_json: JsonFlag = False,
    ) -> None:
        """Report sentiment accuracy, macro-F1 and single-message latency."""
        from assistant.engine.understanding.confusion import plot_confusion
        from assistant.engine.understanding.dataset import DataError
        from assistant.engine.understanding.evaluation import evaluate_sentiment
        from assistant.engine.understanding.understanding import train_options

        settings = build_settings()
        set_threads(threads)
        try:
            result = evaluate_sentiment(test, train, settings.retrieval.embedding_model, progress=not as_json,
                                        options=train_options(not as_json, epochs))
        except (DataError, ValueError) as exc:
            fail(str(exc))
        _report(f"sentiment ({result.metrics['model']}): test {test}", result.metrics)
        if plot:
            plot_confusion(result.gold, result.predicted, result.labels, plot, f"Sentiment: {test.name}")
            typer.echo(f"  confusion matrix -> {plot}")
        if as_json:
            print_json_last(result.metrics)
