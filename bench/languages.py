"""Questions in other languages: does the reply come in the customer's language, and does it cite the right page?

    python bench/languages.py [--limit N]

bench/data/store_questions_multilingual.jsonl holds 54 store questions (bench/data/store_questions.jsonl and the
first 30 answerable ones of store_eval_queries.jsonl) with French, German, Spanish and Chinese translations
written for this bench. Each language runs through `assistant eval answers` on the English sample store
(bench/data/store_kb.jsonl, the embedded model's extractive answers, the sample templates), and each reply is
checked with the product's own language detector: in the customer's language, or too short to tell. Source
hit@1 is the share of questions whose first cited page is relevant. Also measured: language detection alone on
every translated question. Then a site with both languages: the store pages plus their French translation
(bench/data/store_kb_fr.jsonl, written for this bench, ids with "-fr"), asked in English and in French; a French
question counts as a hit only on the French page. Writes bench/results/languages.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engine.understanding.language import UNKNOWN, detect_language  # noqa: E402
from bench.answers_runner import add_arguments, eval_answers  # noqa: E402

LANGUAGES = ("en", "fr", "de", "es", "zh")
DATA = ROOT / "bench" / "data" / "store_questions_multilingual.jsonl"
FRENCH_KB = ROOT / "bench" / "data" / "store_kb_fr.jsonl"
OUT_MD = ROOT / "bench" / "results" / "languages.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:args.limit] if args.limit else rows
    results = {}
    english_kb = args.kb
    with tempfile.TemporaryDirectory() as tmp:
        mixed = Path(tmp) / "store_kb_en_fr.jsonl"
        mixed.write_text(english_kb.read_text(encoding="utf-8") + FRENCH_KB.read_text(encoding="utf-8"),
                         encoding="utf-8")
        runs = [(language, english_kb, "") for language in LANGUAGES] + [("en", mixed, "-fr"), ("fr", mixed, "-fr")]
        for language, kb, suffix in tqdm(runs, desc="runs"):
            key = language if not suffix else f"{language} (en+fr pages)"
            own = suffix if language == "fr" else ""  # French questions must cite the French page
            queries = Path(tmp) / f"{language}{suffix}.jsonl"
            queries.write_text("".join(json.dumps({"query": r[language], "relevant": [i + own for i in r["relevant"]]},
                                                  ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            args.queries, args.kb = queries, kb
            metrics, details = eval_answers(args, {}, Path(tmp) / f"{language}{suffix}-details.jsonl")
            detected = [detect_language(r[language]) for r in rows]
            replies = [detect_language(d["answer"]) for d in details]
            results[key] = {
                "n": len(rows),
                "question_detected": sum(d == language for d in detected) / len(rows),
                "reply_in_language": sum(r in (language, UNKNOWN) for r in replies) / len(rows),
                "source_hit_at_1": sum(bool(d["hit"]) for d in details) / len(rows),
                "answered": sum(d["route"] in ("template", "faq", "generate", "extractive") for d in details)
                / len(rows),
                "routes": {route: sum(d["route"] == route for d in details)
                           for route in sorted({d["route"] for d in details})},
                "example": {"question": rows[0][language], "reply": details[0]["answer"]},
            }
    write_report(results)
    print(json.dumps(results, indent=1, ensure_ascii=False))


def write_report(results: dict) -> None:
    english = results["en"]["source_hit_at_1"]
    lines = ["## Languages: questions in French, German, Spanish and Chinese", "",
             f"- date: {dt.datetime.now():%Y-%m-%d %H:%M}; command: `python bench/languages.py`; machine: "
             f"{os.cpu_count()} cores, no GPU",
             f"- {results['en']['n']} store questions per language (bench/data/store_questions_multilingual.jsonl, "
             "translations written for this bench), the English sample store and the same with its pages also in "
             "French (bench/data/store_kb_fr.jsonl), default settings", "",
             "| language | question detected | reply in the customer's language | source hit@1 | vs English | "
             "answered | routes |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for language, r in results.items():
        routes = ", ".join(f"{k} {v}" for k, v in r["routes"].items())
        lines.append(f"| {language} | {r['question_detected']:.2f} | {r['reply_in_language']:.2f} | "
                     f"{r['source_hit_at_1']:.2f} | {r['source_hit_at_1'] - english:+.2f} | {r['answered']:.2f} | "
                     f"{routes} |")
    for key in ("fr", "fr (en+fr pages)"):
        lines += ["", f"What a French customer reads, {key}:", "",
                  f"> {results[key]['example']['question']}", ">", f"> {results[key]['example']['reply']}"]
    lines.append("")
    OUT_MD.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
