"""`assistant eval answers` in a child process, for the benches that compare settings on the same sets.

Used by bench/answer_guard.py and bench/grounded_ttft.py (run those); each variant is one run with its
own ASSISTANT_* environment, so every run builds its engine from scratch, as a fresh server would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--kb, --queries (the store eval set by default) and --intent-model (used where it exists)."""
    parser.add_argument("--kb", type=Path, default=ROOT / "bench/data/store_kb.jsonl")
    parser.add_argument("--queries", type=Path, default=ROOT / "bench/data/store_eval_queries.jsonl")
    parser.add_argument("--intent-model", type=Path, default=ROOT / "var/cache/test-intent-model")


def eval_answers(args: argparse.Namespace, env: dict[str, str], details: Path) -> tuple[dict, list[dict]]:
    """The run's metrics (its --json line) and its per-query details (written to `details`)."""
    cmd = [str(Path(sys.executable).parent / "assistant"), "eval", "answers", "--kb", str(args.kb), "--queries",
           str(args.queries), "--json", "--details", str(details)]
    if (args.intent_model / "meta.json").exists():
        cmd += ["--intent-model", str(args.intent_model)]
    done = subprocess.run(cmd, env={**os.environ, **env}, check=True, stdout=subprocess.PIPE, text=True)
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    return metrics, [json.loads(line) for line in details.read_text().splitlines()]
