"""Helpers shared by CLI commands: settings with flag overrides, clear failures, JSON output, common flags."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from assistant.engine.settings import Settings

# Flags that several commands take, declared once so their names, bounds and help read the same everywhere.
JsonFlag = Annotated[bool, typer.Option("--json", help="Also print one JSON object as the last line of stdout.")]
ThreadsOption = Annotated[int, typer.Option("--threads", min=0, help="Torch threads (0 = all cores).")]
EpochsOption = Annotated[
    int | None, typer.Option("--epochs", min=0, help="Encoder fine-tuning epochs (0 = frozen; default: 3).")
]
PlotOption = Annotated[Path | None, typer.Option("--plot", help="Write a confusion-matrix PNG here.")]


def build_settings(**overrides: Any) -> Settings:
    """Settings from env/.env, with CLI flags (dotted keys like 'engine.backend') layered on top.

    An invalid value (environment, .env or flag) ends the command with one line per problem, not a traceback.
    """
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    try:
        base = Settings()
        if not nested:
            return base
        merged = base.model_dump()
        for section, values in nested.items():
            if isinstance(values, dict):
                merged[section] = {**merged.get(section, {}), **values}
            else:
                merged[section] = values
        return Settings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"ASSISTANT_{'__'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        fail(f"invalid settings: {problems}")


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json_last(obj: Any) -> None:
    """Emit one JSON object as the last line of stdout (the contract of every `--json` flag)."""
    sys.stdout.flush()
    print(json.dumps(obj, default=str))


def set_threads(threads: int) -> None:
    """Torch threads for training/eval commands; 0 keeps torch's default (all cores)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
