"""Prepare training data: read, drop empty/overlong turns, redact PII, deduplicate, split, render.

    python -m finetune.prepare --inputs finetune/samples/transcripts.jsonl finetune/samples/qa.csv \
        --output_dir var/finetune/data        # or: assistant finetune prepare ...

Writes train.jsonl and val.jsonl (chat messages rendered by the serving prompt builder, plus the
plain question and answer for evaluation) and report.json / report.md with every count. The
output folder is replaced atomically, so a failed run never leaves half-written data.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from assistant.engine.context import SourceSelector
from assistant.engine.settings import Settings
from finetune.arguments import options_dict, parse_options
from finetune.errors import FinetuneError
from finetune.prompting import Renderer, open_serving_retriever, serving_prompt_builder
from finetune.readers import read_inputs
from finetune.records import Example
from finetune.redaction import RedactionConfig, Redactor
from finetune.split import split

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLE_INPUTS = [str(PACKAGE_DIR / "samples" / "transcripts.jsonl"), str(PACKAGE_DIR / "samples" / "qa.csv")]
DEFAULT_REDACTION = str(PACKAGE_DIR / "configs" / "redaction.yaml")


@dataclass
class PrepareOptions:
    inputs: list[str] = field(default_factory=lambda: list(SAMPLE_INPUTS), metadata={
        "help": "Input files: .jsonl (OpenAI chat format, or the store's review export) and .csv (question,answer)."})
    output_dir: str = field(default="var/finetune/data", metadata={"help": "Folder for train/val JSONL and the report."})
    val_fraction: float = field(default=0.15, metadata={"help": "Share of examples held out for validation."})
    seed: int = field(default=13, metadata={"help": "Seed of the deterministic train/validation split."})
    max_turn_chars: int = field(default=2000, metadata={"help": "Examples with a longer turn are dropped."})
    redact: bool = field(default=True, metadata={"help": "Replace PII (e-mails, phones, cards, IBANs, addresses)."})
    redaction_config: str = field(default=DEFAULT_REDACTION, metadata={
        "help": "YAML with kinds / extra regexes / allow-list literals; empty = built-in defaults."})
    context: bool = field(default=False, metadata={
        "help": "Ground each prompt on passages from the serving retriever (slower; matches RAG serving)."})
    top_k: int = field(default=0, metadata={"help": "Passages per prompt with --context; 0 = the serving setting."})
    namespace: str = field(default="default", metadata={"help": "Knowledge-base namespace searched with --context."})


def _file_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _row(example: Example, messages: list[dict[str, str]]) -> dict[str, Any]:
    return {"messages": messages, "question": example.question, "answer": example.answer,
            "source": example.source, "origin": example.origin}


def _markdown(report: dict[str, Any]) -> str:
    counts = report["counts"]
    lines = [
        "# Fine-tuning data preparation", "",
        f"- date: {report['date']}", f"- inputs: {', '.join(report['options']['inputs'])}",
        f"- data hash (sha256 of train+val): `{report['data_hash']}`", "",
        "| step | examples |", "|---|---|",
        f"| read | {counts['read']} |", f"| dropped: empty turn | {counts['dropped_empty']} |",
        f"| dropped: turn over {report['options']['max_turn_chars']} chars | {counts['dropped_overlong']} |",
        f"| dropped: duplicate | {counts['dropped_duplicate']} |", f"| kept | {counts['kept']} |",
        f"| train | {counts['train']} |", f"| validation | {counts['val']} |", "",
        "## Redaction", "",
        f"{report['redaction']['examples_changed']} examples changed; replacements by kind:", "",
    ]
    by_kind = report["redaction"]["by_kind"] or {"(none)": 0}
    lines += ["| kind | replacements |", "|---|---|"] + [f"| {k} | {v} |" for k, v in by_kind.items()]
    if report["redaction"]["records"]:
        lines += ["", "Records changed (values are never logged):", ""]
        lines += [f"- {r['origin']}: {', '.join(r['kinds'])}" for r in report["redaction"]["records"]]
    return "\n".join(lines) + "\n"


def prepare(options: PrepareOptions, settings: Settings | None = None) -> dict[str, Any]:
    """Run the whole preparation; returns the report (also written to output_dir/report.json)."""
    settings = settings or Settings()
    examples = read_inputs(Path(p) for p in options.inputs)
    counts: Counter[str] = Counter(read=len(examples))
    kept: list[Example] = []
    for ex in examples:
        texts = ex.texts()
        if not ex.question.strip() or not ex.answer.strip():
            counts["dropped_empty"] += 1
        elif max(len(t) for t in texts) > options.max_turn_chars:
            counts["dropped_overlong"] += 1
        else:
            kept.append(ex)

    by_kind: Counter[str] = Counter()
    changed: list[dict[str, Any]] = []
    if options.redact:
        config = RedactionConfig.from_yaml(Path(options.redaction_config)) if options.redaction_config \
            else RedactionConfig()
        redactor = Redactor(config)
        redacted = []
        for ex in tqdm(kept, desc="redact", unit="ex", disable=None):
            texts, kinds = [], Counter()
            for text in ex.texts():
                clean, found = redactor.redact(text)
                texts.append(clean)
                kinds += found
            if kinds:
                by_kind += kinds
                changed.append({"origin": ex.origin, "kinds": sorted(kinds)})
            redacted.append(ex.with_texts(texts) if kinds else ex)
        kept = redacted

    # Deduplicate after redaction: two records that differ only in a customer's e-mail are one example.
    seen: set[tuple[str, ...]] = set()
    unique = []
    for ex in kept:
        if ex.key() in seen:
            counts["dropped_duplicate"] += 1
            continue
        seen.add(ex.key())
        unique.append(ex)
    if not unique:
        raise FinetuneError(f"no usable examples left in {', '.join(options.inputs)} "
                            f"(read {counts['read']}, empty {counts['dropped_empty']}, "
                            f"overlong {counts['dropped_overlong']})")
    train, val = split(unique, options.val_fraction, options.seed)

    retriever = open_serving_retriever(settings) if options.context else None
    renderer = Renderer(serving_prompt_builder(settings), retriever,
                        options.top_k or settings.retrieval.top_k, options.namespace,
                        SourceSelector.from_settings(settings, retriever) if retriever is not None else None)
    out = Path(options.output_dir)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, part in (("train", train), ("val", val)):
        with (tmp / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for ex in tqdm(part, desc=f"render {name}", unit="ex", disable=None):
                handle.write(json.dumps(_row(ex, renderer.render(ex)), ensure_ascii=False) + "\n")
    counts.update(kept=len(unique), train=len(train), val=len(val))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": options_dict(options),
        "counts": {k: counts[k] for k in ("read", "dropped_empty", "dropped_overlong", "dropped_duplicate",
                                          "kept", "train", "val")},
        "sources": dict(Counter(ex.source for ex in unique)),
        "redaction": {"by_kind": dict(by_kind), "examples_changed": len(changed), "records": changed},
        "data_hash": _file_hash(tmp / "train.jsonl", tmp / "val.jsonl"),
        "prompt": {"company": settings.company, "system_prompt_sha256":
                   hashlib.sha256(settings.system_prompt.encode()).hexdigest(), "context": options.context},
    }
    (tmp / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    (tmp / "report.md").write_text(_markdown(report), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return report


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_options(PrepareOptions, argv, "Prepare fine-tuning data (see finetune/prepare.py).")
        report = prepare(options)
    except FinetuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    c = report["counts"]
    print(f"prepared {c['train']} train / {c['val']} val examples in {options.output_dir} "
          f"(read {c['read']}, empty {c['dropped_empty']}, overlong {c['dropped_overlong']}, "
          f"duplicates {c['dropped_duplicate']}, redactions {sum(report['redaction']['by_kind'].values())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
