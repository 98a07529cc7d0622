"""Answer guard on vs off, one run: how many grounded answers open with a source-title list or the question.

    python bench/answer_guard.py            # store set, the default engine, 32 new tokens

Runs `assistant eval answers` twice on the same KB and queries, with ASSISTANT_ENGINE__ANSWER_GUARD
true and false, and reads the per-query details. An "echo opening" is judged by the guard's own rule
(assistant/engine/guard.py) against every KB title, so it also counts titles of pages that were not
retrieved. Writes docs/bench/answer-guard.md and docs/bench/answer-guard.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from statistics import median
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine.guard import OpeningGuard  # noqa: E402
from bench.answers_runner import add_arguments, eval_answers  # noqa: E402


def cell(text: str) -> str:
    return text.replace("\n", " ⏎ ").replace("|", "/")[:140]


def summarise(rows: list[dict], titles: list[SimpleNamespace]) -> dict:
    generated = [r for r in rows if r["route"] == "generate"]
    echoes = [r for r in generated if OpeningGuard(r["query"], titles).judge(r["answer"], finished=True) != "ok"]
    answerable = [r for r in rows if r["answerable"]]
    return {
        "generated": len(generated),
        "echo_openings": len(echoes),
        "cited": sum("[" in r["answer"] and "]" in r["answer"] for r in generated),
        "source_hit_at_1": round(sum(r["hit"] for r in answerable) / max(len(answerable), 1), 4),
        "latency_ms_p50_generated": round(median(r["latency_ms"] for r in generated), 1) if generated else None,
        "examples": [(r["query"], r["answer"]) for r in echoes[:3]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    titles = [SimpleNamespace(title=json.loads(line)["title"], text="") for line in args.kb.read_text().splitlines()]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for guard in (False, True):
            env = {"ASSISTANT_ENGINE__ANSWER_GUARD": str(guard).lower()}
            _, rows = eval_answers(args, env, Path(tmp) / f"guard-{guard}.jsonl")
            results["on" if guard else "off"] = summarise(rows, titles)
            results["on" if guard else "off"]["rows"] = rows
    off, on = results["off"], results["on"]
    changed = [(a["query"], a["answer"], b["answer"]) for a, b in zip(off["rows"], on["rows"], strict=True)
               if a["route"] == "generate" and a["answer"] != b["answer"]]

    lines = [
        "## Answer guard: echo openings of the default model, guard off vs on",
        "",
        f"Date: {datetime.now().isoformat(timespec='minutes')}. Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"no GPU; load average before: {[round(x, 2) for x in load]}.",
        "Command: `python bench/answer_guard.py` (runs `assistant eval answers --kb "
        f"{args.kb.relative_to(ROOT)} --queries {args.queries.relative_to(ROOT)} --details ...` with "
        "`ASSISTANT_ENGINE__ANSWER_GUARD=false`, then `true`; default engine, 32 new tokens, greedy).",
        "",
        "An echo opening: the answer's first line is a help-centre page title (after any `1.` / `[1]` marker) or "
        "the question itself, judged by the guard's rule against every KB title. With the guard on such an "
        "opening is stopped before it streams and the reply is the passage sentence closest to the question; an "
        "answer that cites no source gets the number of the passage it quotes word for word, or that closest "
        "sentence added, cited.",
        "",
        "| guard | generated answers | echo openings | answers citing a source `[n]` | source_hit_at_1 (all answerable) "
        "| latency p50, generated turns |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in (("off", off), ("on (default)", on)):
        lines.append(f"| {name} | {r['generated']} | {r['echo_openings']} | {r['cited']} | {r['source_hit_at_1']} "
                     f"| {r['latency_ms_p50_generated']} ms |")
    lines += ["", f"Answers that differ ({len(changed)}), first five:", "", "| question | guard off | guard on |",
              "| --- | --- | --- |"]
    for q, a, b in changed[:5]:
        lines.append(f"| {cell(q)} | {cell(a)} | {cell(b)} |")
    lines += ["", "![answer guard](answer-guard.png)", ""]
    out = ROOT / "docs/bench/answer-guard.md"
    out.write_text("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    labels = ["echo openings", "answers citing a source [n]"]
    for i, (name, r) in enumerate((("guard off", off), ("guard on", on))):
        ax.bar([x + i * 0.38 for x in range(2)], [r["echo_openings"], r["cited"]], width=0.38, label=name)
    ax.set_xticks([x + 0.19 for x in range(2)], labels)
    ax.set_ylabel(f"of {on['generated']} generated answers")
    ax.legend()
    ax.set_title("Answer guard on the store eval set")
    fig.tight_layout()
    fig.savefig(ROOT / "docs/bench/answer-guard.png", dpi=110)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk not in ("rows", "examples")} for k, v in results.items()}))


if __name__ == "__main__":
    main()
