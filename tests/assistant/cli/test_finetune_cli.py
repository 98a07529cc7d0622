"""`assistant finetune ...`: flags pass through to the step, --json ends stdout with one JSON object,
errors are one stderr line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli import app

runner = CliRunner()


def test_prepare_with_json_summary(tmp_path: Path) -> None:
    qa = tmp_path / "qa.csv"
    qa.write_text("question,answer\nDo you ship to Norway?,Yes.\nCall me on 0612345678?,We will.\n")
    result = runner.invoke(app, ["finetune", "prepare", "--inputs", str(qa), "--output_dir", str(tmp_path / "d"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["counts"]["kept"] == 2 and summary["redaction"]["by_kind"] == {"phone": 1}
    assert (tmp_path / "d" / "train.jsonl").is_file()


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    qa = tmp_path / "qa.csv"
    qa.write_text("text,label\nhello,greeting\n")
    result = runner.invoke(app, ["finetune", "prepare", "--inputs", str(qa), "--output_dir", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {qa}, line 1: the header must start with two columns "
                                                  "'question,answer' (first the question, second the answer); "
                                                  "got 'text,label'"]


def test_step_help_lists_the_options() -> None:
    result = runner.invoke(app, ["finetune", "train", "--help"])
    assert result.exit_code == 0
    assert "--lora_r" in result.stdout and "LoRA rank" in result.stdout and "--resume_from_checkpoint" in result.stdout


def test_export_unknown_adapter_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["finetune", "export", "--adapter", "nope", "--adapters_dir", str(tmp_path)])
    assert result.exit_code == 2 and "no adapter 'nope'" in result.stderr
