"""Builds FAQ retrieval eval sets from the shared public intent data sets.

    python bench/retrieval_faq_data.py [--data ../shared/data] [--out bench/data]

BANKING77 (CC BY 4.0) -> one FAQ entry per intent: title = a canonical question written from the
label, text = a written answer + 5 train utterances as question variants ("banking77_faq");
"banking77_faq_lean" has no variants (question + answer only), so it measures matching
paraphrases against the question field. Queries: the 3,080 test utterances. A dev query set
(other train utterances, never in the KB text) is for fitting calibration and choosing defaults.
"banking77_codes" is the rare-term set: each lean entry gets a made-up error code in its answer
("Error code E-4821 ...") and queries ask about a code in generic words, so only the rare term
identifies the answer (how customers quote error codes, SKUs or plan names).
CLINC150 (CC BY 3.0, "clinc150_faq") has no written answers: title = the intent name,
text = 5 train utterances; queries = the val utterances (out-of-scope dropped).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import defaultdict
from pathlib import Path

VARIANTS = 5
DEV_PER_INTENT = 20
HERE = Path(__file__).resolve().parent


def read(path: Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as fh:
        return [(row[0], row[1]) for row in list(csv.reader(fh))[1:]]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def build_banking77(data: Path, out: Path) -> None:
    written = json.loads((HERE / "data" / "banking77_faq_answers.json").read_text())
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in read(data / "banking77" / "train.csv"):
        by_label[label].append(text)
    rng = random.Random(77)
    kb, lean, dev = [], [], []
    for label, (question, answer) in written.items():
        examples = by_label[label][:]
        rng.shuffle(examples)
        variants, rest = examples[:VARIANTS], examples[VARIANTS:]
        kb.append(
            {
                "id": label,
                "title": question,
                "text": answer + "\n\nAlso asked as:\n- " + "\n- ".join(variants),
            }
        )
        lean.append({"id": label, "title": question, "text": answer})
        dev += [{"query": q, "relevant": [label]} for q in rest[:DEV_PER_INTENT]]
    test = [{"query": t, "relevant": [label]} for t, label in read(data / "banking77" / "test.csv")]
    write_jsonl(out / "banking77_faq_kb.jsonl", kb)
    write_jsonl(out / "banking77_faq_lean_kb.jsonl", lean)
    write_jsonl(out / "banking77_faq_queries.jsonl", test)
    write_jsonl(out / "banking77_faq_dev_queries.jsonl", dev)
    print(f"banking77: {len(kb)} entries, {len(test)} test queries, {len(dev)} dev queries -> {out}")


CODE_QUERIES = (
    "What does error code {c} mean?",
    "I keep getting {c} in the app, help",
    "Why am I seeing {c}?",
)


def build_codes(out: Path) -> None:
    lean = [json.loads(line) for line in (out / "banking77_faq_lean_kb.jsonl").read_text().splitlines()]
    rng = random.Random(4821)
    codes = rng.sample(range(1000, 9999), len(lean))
    kb, queries = [], []
    for entry, number in zip(lean, codes, strict=True):
        code = f"E-{number}"
        kb.append(
            {**entry, "text": f"{entry['text']} If the app shows error code {code}, this is the reason."}
        )
        queries += [{"query": t.format(c=code), "relevant": [entry["id"]]} for t in CODE_QUERIES]
    write_jsonl(out / "banking77_codes_kb.jsonl", kb)
    write_jsonl(out / "banking77_codes_queries.jsonl", queries)
    print(f"banking77 codes: {len(kb)} entries, {len(queries)} rare-term queries -> {out}")


def build_clinc150(data: Path, out: Path) -> None:
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in read(data / "clinc150" / "train.csv"):
        if label != "oos":
            by_label[label].append(text)
    rng = random.Random(150)
    kb = []
    for label, examples in sorted(by_label.items()):
        examples = examples[:]
        rng.shuffle(examples)
        kb.append({"id": label, "title": label.replace("_", " "), "text": "\n".join(examples[:VARIANTS])})
    queries = [
        {"query": t, "relevant": [lab]} for t, lab in read(data / "clinc150" / "val.csv") if lab != "oos"
    ]
    write_jsonl(out / "clinc150_faq_kb.jsonl", kb)
    write_jsonl(out / "clinc150_faq_queries.jsonl", queries)
    print(f"clinc150: {len(kb)} entries, {len(queries)} queries -> {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE / "data")
    parser.add_argument("--clinc-out", type=Path, default=HERE.parent / "var" / "bench")
    args = parser.parse_args()
    if not (args.data / "banking77" / "train.csv").exists():
        raise SystemExit(f"error: BANKING77 not found under {args.data} (pass --data)")
    args.out.mkdir(parents=True, exist_ok=True)
    args.clinc_out.mkdir(parents=True, exist_ok=True)
    build_banking77(args.data, args.out)
    build_codes(args.out)
    build_clinc150(args.data, args.clinc_out)


if __name__ == "__main__":
    main()
