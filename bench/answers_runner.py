"""`assistant eval answers` in a child process, for the benches that compare tuning values on the same sets.

Used by bench/grounded_ttft.py (run it); each variant is one run with its own module constants
(tests/with_constants.py: {"module:NAME": value}), so every run builds its engine from scratch, as a fresh
server would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.with_constants import MODULE, constants_env  # noqa: E402


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--kb, --queries (the store eval set by default), --intent-model (used where it exists), --templates."""
    parser.add_argument("--kb", type=Path, default=ROOT / "bench/data/store_kb.jsonl")
    parser.add_argument("--queries", type=Path, default=ROOT / "bench/data/store_eval_queries.jsonl")
    parser.add_argument("--intent-model", type=Path, default=ROOT / "var/cache/test-intent-model")
    parser.add_argument("--templates", default="auto", help="auto (the sample templates with the store KB) or none")


def eval_answers(args: argparse.Namespace, constants: dict[str, object], details: Path) -> tuple[dict, list[dict]]:
    """The run's metrics (its --json line) and its per-query details (written to `details`)."""
    cmd = [sys.executable, "-m", MODULE, "eval", "answers", "--kb", str(args.kb), "--queries",
           str(args.queries), "--json", "--details", str(details), "--templates", args.templates]
    if (args.intent_model / "meta.json").exists():
        cmd += ["--intent-model", str(args.intent_model)]
    env = {**os.environ, **constants_env(constants)}
    done = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    return metrics, [json.loads(line) for line in details.read_text().splitlines()]
