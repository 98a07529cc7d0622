"""The answer text on real help centres: each zoomcamp course FAQ as its own knowledge base, its questions
(data-engineering: 300 drawn with seed 0; mlops: all 674) plus CLINC150 val's 100 out-of-scope questions as the
unanswerable ones, the sample store set (also with every answer drafted by the model), its questions that ask for an
amount (how long, how much, when), a small bike-rental help centre written for this bench (a company the product was
not built on), the follow-up exchanges and the injection suite, through `assistant eval answers` (whole pipeline,
default engine).

    python bench/answers_text.py                      # every set, default engine; writes bench/results/answers-text.md
    python bench/answers_text.py --sets mlops --limit 50 --no-generate     # a quick look, nothing written

Prints one table (answer similarity over all questions with abstentions as 0, defective share, faithfulness,
source hit@1, answered, abstention on unanswerable, latency) and writes per-set details and plots to --out.
The zoomcamp data is measure-only: query files are built in a temp folder from ../shared/data, never committed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
SETS = ("data-engineering", "mlops", "store", "store-drafted", "store-oos", "store-amounts", "bike-rental", "follow-ups store", "follow-ups data-engineering",
        "follow-ups mlops", "injection")
DATA = ROOT / "bench" / "data"
STORE_KB = DATA / "store_kb.jsonl"
# the store again with the model drafting every answer (engine.answers=checked; the default, auto, answers
# extractively with the embedded 135M model): how often a draft passes the check, and its time to first token
DRAFTED = {"ASSISTANT_ENGINE__ANSWERS": "checked"}


def unanswerable() -> list[dict]:
    with (SHARED / "clinc150" / "val.csv").open(encoding="utf-8") as f:
        return [{"query": row["text"], "relevant": []} for row in csv.DictReader(f) if row["intent"] == "oos"]


def course_queries(course: str, seed: int, sample: int | None) -> list[dict]:
    rows = [json.loads(line) for line in (SHARED / "zoomcamp_faq" / f"{course}_questions.jsonl").open()]
    if sample is not None and sample < len(rows):
        rows = random.Random(seed).sample(rows, sample)
    return rows + unanswerable()


def inputs(name: str, tmp: Path, seed: int) -> tuple[Path, Path]:
    """(knowledge base, query file) of a set; query files built from ../shared/data go to `tmp`."""
    def written(file: str, rows: list[dict]) -> Path:
        (tmp / file).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return tmp / file

    if name == "store-oos":  # the store against CLINC150 val's out-of-scope questions, as each course is
        return STORE_KB, written("store-oos.jsonl", unanswerable())
    if name == "bike-rental":  # a second, smaller company's help centre (5 pages written for this bench), no templates
        return DATA / "bike_rental_kb.jsonl", DATA / "bike_rental_queries.jsonl"
    if name == "store-amounts":  # questions that ask for an amount: how long, how much, when
        return STORE_KB, DATA / "store_amount_queries.jsonl"
    if name.startswith("store"):
        return STORE_KB, DATA / "store_eval_queries.jsonl"
    if name.startswith("follow-ups"):  # two-turn exchanges: the first question asked for real, then the follow-up
        course = name.removeprefix("follow-ups ")
        kb = STORE_KB if course == "store" else SHARED / "zoomcamp_faq" / f"{course}_faq.jsonl"
        rows = [r for r in map(json.loads, (DATA / "followups.jsonl").open(encoding="utf-8"))
                if r["kb"] == course or r["kb"] == f"zoomcamp-{course}"]
        return kb, written(f"{name}.jsonl", rows)
    if name == "injection":  # the store plus the suite's poisoned pages
        cases = [json.loads(line) for line in (DATA / "injection_cases.jsonl").open(encoding="utf-8")]
        pages = [json.loads(line) for line in STORE_KB.open(encoding="utf-8")]
        pages += [c["poison"] for c in cases if c["side"] == "document"]
        return written("injection_kb.jsonl", pages), DATA / "injection_cases.jsonl"
    rows = course_queries(name, seed, 300 if name == "data-engineering" else None)
    return SHARED / "zoomcamp_faq" / f"{name}_faq.jsonl", written(f"{name}.jsonl", rows)


def run(name: str, kb: Path, queries: Path, out: Path, args: argparse.Namespace) -> dict:
    cmd = [str(Path(sys.executable).parent / "assistant"), "eval", "answers", "--kb", str(kb), "--queries",
           str(queries), "--json", "--details", str(out / f"{name}.jsonl"), "--plot", str(out / f"{name}.png"),
           "--templates", "none" if "data-engineering" in name or "mlops" in name or name == "bike-rental" else "auto"]
    if not args.generate:
        cmd.append("--no-generate")
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    env = {**os.environ, **(DRAFTED if name == "store-drafted" else {})}
    done = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True)
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    rows = [json.loads(line) for line in (out / f"{name}.jsonl").open(encoding="utf-8")]
    for label, routes in (("curated", ("template", "faq")), ("extractive", ("extractive",))):
        ms = [r["latency_ms"] for r in rows if r["route"] in routes]
        metrics[f"latency_ms_p50_{label}"] = round(statistics.median(ms), 1) if ms else None
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N queries of each set (a quick look)")
    parser.add_argument("--generate", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-answers")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            kb, queries = inputs(name, Path(tmp), args.seed)
            results[name] = run(name, kb, queries, args.out, args)
            print(f"{name}: {json.dumps(results[name])}", file=sys.stderr)
    keys = ["answer_similarity_mean_all", "defective_rate", "faithfulness", "source_hit_at_1", "answered_rate",
            "abstain_or_handoff_rate_unanswerable", "latency_ms_p50_curated", "latency_ms_p50_extractive",
            "ttft_ms_p50_generated"]
    print("| set | " + " | ".join(keys) + " |")
    print("|" + " --- |" * (len(keys) + 1))
    for name, metrics in results.items():
        print(f"| {name} | " + " | ".join(str(metrics.get(k)) for k in keys) + " |")
    (args.out / "summary.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    if args.generate and not args.limit and set(args.sets) == set(SETS):
        write_section(results, keys)


def write_section(results: dict, keys: list[str]) -> None:
    """bench/results/answers-text.md: the table, with date, machine and command (merged by bench/merge.py)."""
    import datetime
    import platform

    lines = ["## Answer text: similarity, defects, faithfulness (zoomcamp course FAQs and the sample store)", "",
             f"- date: {datetime.date.today()}; machine: {platform.machine()} {os.cpu_count()}-core CPU, no GPU",
             "- command: `python bench/answers_text.py` (each set through `assistant eval answers`, default engine)",
             "- sets: data-engineering FAQ (435 entries; 300 of its questions, seed 0) and mlops FAQ (138 entries; all"
             " 674 questions), each its own knowledge base with CLINC150 val's 100 out-of-scope questions as the"
             " unanswerable ones; the sample store (30 pages, 60 answerable + 20 unanswerable, sample templates);"
             " store-oos: the store against CLINC150 val's 100 out-of-scope questions; store-drafted: the store with every answer drafted by the model and checked (engine.answers=checked;"
             " the default, auto, answers extractively with the embedded SmolLM2-135M); follow-ups: the two-turn"
             " exchanges of bench/data/followups.jsonl on their knowledge base, the first question asked for real in"
             " the same chat; injection: the 32 cases of bench/data/injection_cases.jsonl over the store plus the"
             " suite's poisoned pages.",
             "- latency: end to end per turn (`assistant eval answers`, in process, 2 cores); curated = template"
             " and FAQ replies; ttft_ms_p50_generated: first shown token of turns the model drafted.",
             "- answer similarity: cosine (all-MiniLM-L6-v2) of the answer and the reference answer, abstentions"
             " counting 0; defective: share of shown answers with a loop, an unfinished sentence, an echo, a"
             " dangling citation, a non-answer, an instruction stated as fact or over 1,200 characters.", "",
             "| set | " + " | ".join(keys) + " | routes |", "|" + " --- |" * (len(keys) + 2)]
    for name, metrics in results.items():
        lines.append(f"| {name} | " + " | ".join(str(metrics.get(k)) for k in keys) + f" | {metrics.get('routes')} |")
    (ROOT / "bench" / "results" / "answers-text.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
