"""The `assistant` command line. Run `assistant --help`.

Each command group lives in its own module under assistant/cli/ and exposes
`register(app, eval_app)`; add new modules to COMMAND_MODULES. Errors print one clear
line to stderr and exit non-zero (see common.fail).
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="Customer-service assistant: serve, chat, ingest, evaluate, fine-tune.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate retrieval, intents, sentiment and answers; --json for machines.")
app.add_typer(eval_app, name="eval")

COMMAND_MODULES = [
    "assistant.cli.serve",
    "assistant.cli.chat",
    "assistant.cli.db",
    "assistant.cli.train",
    "assistant.cli.eval_understanding",
    "assistant.cli.kb",
    "assistant.cli.eval_retrieval",
    "assistant.cli.eval_answers",
    "assistant.cli.finetune",
    "assistant.cli.sites",
    "assistant.cli.conversations",
]

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app, eval_app)


def main() -> None:
    app()
