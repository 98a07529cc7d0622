"""Repetition controls on drafted answers: what a repetition penalty or no-repeat n-grams do, one run.

    python bench/repetition.py            # store set, default engine (onnx on a CPU), every answer drafted
    python bench/repetition.py --kb mlops_docs.jsonl --queries mlops150.jsonl --templates none \
        --section repetition-mlops   # another help centre

For the second: the mlops course FAQ (../shared/data/zoomcamp_faq, measure-only) written as articles
({"id", "title": question, "text": answer} per line: an FAQ knowledge base is answered from its entries, without
the model) and 150 of its questions drawn with random.Random(0).sample.

Runs `assistant eval answers` with engine.answers=checked (the model drafts every grounded answer) once per
setting of facade.REPETITION_PENALTY / facade.NO_REPEAT_NGRAM, on the same KB and queries, and reports how
many drafts passed the answer check (route generate), the looping and other defective answers shown, and
source hit@1. Writes bench/results/repetition.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.answers_runner import add_arguments, eval_answers  # noqa: E402

PENALTY, NGRAM = "assistant.engine.facade:REPETITION_PENALTY", "assistant.engine.facade:NO_REPEAT_NGRAM"
VARIANTS = {
    "off (default)": {},
    "repetition penalty 1.1": {PENALTY: 1.1},
    "repetition penalty 1.3": {PENALTY: 1.3},
    "no repeated 4-grams": {NGRAM: 4},
    "no repeated 8-grams": {NGRAM: 8},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--section", default="repetition", help="writes bench/results/<section>.md")
    args = parser.parse_args()
    load = os.getloadavg()
    os.environ["ASSISTANT_ENGINE__ANSWERS"] = "checked"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, constants) in enumerate(VARIANTS.items()):
            metrics, details = eval_answers(args, constants, Path(tmp) / f"{n}.jsonl")
            answered = [d for d in details if d["route"] in ("generate", "extractive")]
            drafted_ok = sum(d["route"] == "generate" for d in details)
            defects = metrics.get("defects", {})
            rows.append((name, len(answered), drafted_ok, defects.get("loop", 0),
                         sum(v for k, v in defects.items() if k != "loop"), metrics["source_hit_at_1"]))
            print(rows[-1], flush=True)
    lines = [
        f"## Repetition controls on drafted answers ({args.kb.stem})",
        "",
        f"Date: {datetime.now().isoformat(timespec='minutes')}. Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"no GPU; load average before: {[round(x, 2) for x in load]}.",
        f"Command: `python bench/repetition.py --kb {args.kb.name} --queries {args.queries.name} --templates "
        f"{args.templates}` (`ASSISTANT_ENGINE__ANSWERS=checked assistant eval answers` once per setting; default "
        "engine onnx, greedy).",
        "",
        "Grounded turns: answered from the knowledge base. Draft passed: the model's draft survived the answer check "
        "and was shown (else the passages' closest sentences went out). Loops and other defects: of the answers "
        "shown (assistant/engine/answer_checks.py).",
        "",
        "| setting | grounded turns | draft passed | loops shown | other defects shown | source hit@1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {name} | {turns} | {ok} | {loops} | {other} | {hit} |" for name, turns, ok, loops, other, hit in rows),
        "",
    ]
    (ROOT / "bench" / "results" / f"{args.section}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
