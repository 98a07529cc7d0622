"""`assistant finetune prepare|train|eval|export|list`: the fine-tuning pipeline from the command line.

Each step takes the same flags as `python -m finetune.<step>` (generated from the step's options
dataclass; `assistant finetune train --help` lists them) plus `--config FILE.yaml` and `--json`
(summary as the last stdout line). Failures print one line to stderr and exit 2.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer

from assistant.cli.common import JsonFlag, fail, print_json_last

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}

# step -> (module, options dataclass, function that runs it and returns its report)
STEPS: dict[str, tuple[str, str, str]] = {
    "prepare": ("finetune.prepare", "PrepareOptions", "prepare"),
    "train": ("finetune.train", "TrainOptions", "train"),
    "eval": ("finetune.eval", "EvalOptions", "evaluate"),
    "export": ("finetune.export", "ExportOptions", "export"),
}


def _summary(step: str, result: dict[str, Any]) -> str:
    if step == "prepare":
        c = result["counts"]
        return (f"prepared {c['train']} train / {c['val']} val examples (read {c['read']}, empty "
                f"{c['dropped_empty']}, overlong {c['dropped_overlong']}, duplicates {c['dropped_duplicate']}, "
                f"redactions {sum(result['redaction']['by_kind'].values())}) -> {result['options']['output_dir']}")
    if step == "train":
        m = result["metrics"]
        return (f"trained {m['steps']} steps: val loss {m['base_val_loss']} -> {m['val_loss']}, "
                f"{m['train_tokens_per_second']} tokens/s -> {result['options']['output_dir']}/adapter")
    if step == "eval":
        b, a, gate = result["base"], result["adapter"], result["gate"]
        verdict = "PROMOTED" if gate["promoted"] else "REJECTED (" + "; ".join(gate["reasons"]) + ")"
        return (f"val loss {b['val_loss']:.4f} -> {a['val_loss']:.4f}, ROUGE-L {b['rouge_l']:.3f} -> "
                f"{a['rouge_l']:.3f}, key facts {b['key_fact_retention']:.0%} -> {a['key_fact_retention']:.0%}; "
                f"gate: {verdict} -> {result.get('destination', 'not registered')}")
    return f"merged weights written to {result['output_dir']}"


def _run_step(step: str, args: list[str]) -> None:
    from finetune.arguments import parse_options
    from finetune.errors import FinetuneError

    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    module_name, options_name, function_name = STEPS[step]
    module = importlib.import_module(module_name)
    try:
        options = parse_options(getattr(module, options_name), args, (module.__doc__ or "").strip())
        result = getattr(module, function_name)(options)
    except FinetuneError as exc:
        fail(str(exc))
    if not result:  # non-zero ranks of a distributed run have nothing to report
        return
    if as_json:
        typer.echo(_summary(step, result))
        print_json_last({k: v for k, v in result.items() if k != "log_history"})
    else:
        typer.echo(_summary(step, result))


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    finetune_app = typer.Typer(help="Fine-tune the chat model on support transcripts (LoRA): "
                                    "prepare -> train -> eval (gate + registry) -> export.",
                               no_args_is_help=True)
    app.add_typer(finetune_app, name="finetune")

    @finetune_app.command(context_settings=_PASS_THROUGH, add_help_option=False)
    def prepare(ctx: typer.Context) -> None:
        """Clean, redact, deduplicate, split and render transcripts/CSV/review exports. --help for flags."""
        _run_step("prepare", list(ctx.args))

    @finetune_app.command(context_settings=_PASS_THROUGH, add_help_option=False)
    def train(ctx: typer.Context) -> None:
        """Train a LoRA adapter (peft + transformers Trainer). --help for flags."""
        _run_step("train", list(ctx.args))

    @finetune_app.command("eval", context_settings=_PASS_THROUGH, add_help_option=False)
    def evaluate(ctx: typer.Context) -> None:
        """Compare base and adapter on validation, write the report, gate and register. --help for flags."""
        _run_step("eval", list(ctx.args))

    @finetune_app.command(context_settings=_PASS_THROUGH, add_help_option=False)
    def export(ctx: typer.Context) -> None:
        """Merge an adapter into full safetensors weights. --help for flags."""
        _run_step("export", list(ctx.args))

    @finetune_app.command("list")
    def list_adapters(
        adapters_dir: str = typer.Option(None, help="Adapter registry; default = settings engine.adapters_dir."),
        as_json: JsonFlag = False,
    ) -> None:
        """List registered adapters with their base model, date and validation loss."""
        from pathlib import Path

        from assistant.cli.common import build_settings
        from finetune.adapters import list_adapters as registered

        root = Path(adapters_dir) if adapters_dir else build_settings().engine.adapters_dir
        found = registered(root)
        for a in found:
            loss = a.get("metrics", {}).get("adapter", {}).get("val_loss")
            typer.echo(f"{a['name']}: base {a.get('base_model', '?')}, {a.get('date', '?')}, "
                       f"val loss {loss if loss is None else round(loss, 4)}")
        if not found:
            typer.echo(f"no adapters registered in {root}")
        if as_json:
            print_json_last([{k: v for k, v in a.items() if k != "base_fingerprint"} for a in found])
