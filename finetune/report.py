"""The evaluation report: Markdown for people, JSON for machines, both from one dict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

METRICS = [
    ("val_loss", "validation loss (reply tokens)", "{:.4f}"),
    ("perplexity", "perplexity", "{:.2f}"),
    ("ranking_accuracy", "answer-ranking accuracy", "{:.1%}"),
    ("ranking_margin", "ranking margin (nats/token)", "{:+.3f}"),
    ("rouge_l", "ROUGE-L F1", "{:.4f}"),
    ("embedding_cosine", "embedding cosine (MiniLM)", "{:.4f}"),
    ("key_fact_retention", "answers keeping all key facts", "{:.1%}"),
    ("key_fact_recall", "key facts kept (all facts)", "{:.1%}"),
]


def _cell(value: Any, fmt: str) -> str:
    return fmt.format(value) if isinstance(value, int | float) else "-"


def to_markdown(report: dict[str, Any]) -> str:
    gate = report["gate"]
    verdict = "PROMOTED" if gate["promoted"] else "REJECTED"
    lines = [
        f"# Adapter evaluation: {report['name']}", "",
        f"- date: {report['date']}", f"- base model: {report['base_model']}",
        f"- data hash: `{report['data_hash']}`", f"- validation rows: {report['rows']['val']} "
        f"(generation on {report['rows']['generated']}, ranking against {report['rows']['ranking_negatives']} "
        "wrong replies each)",
        f"- gate: **{verdict}** -> {report.get('destination', '(not registered)')}", "",
        "| metric | base | adapter | change |", "|---|---|---|---|",
    ]
    for key, label, fmt in METRICS:
        b, a = report["base"].get(key), report["adapter"].get(key)
        delta = "-" if b is None or a is None else (fmt.format(a - b) if "%" not in fmt else f"{(a - b) * 100:+.1f} pt")
        if delta != "-" and not delta.startswith(("+", "-")):
            delta = "+" + delta
        lines.append(f"| {label} | {_cell(b, fmt)} | {_cell(a, fmt)} | {delta} |")
    lines += ["", "## Gate", "", "| check | base | adapter | required | result |", "|---|---|---|---|---|"]
    for c in gate["checks"]:
        lines.append(f"| {c['metric']} | {c['base']:.4f} | {c['adapter']:.4f} | {c['required']} | "
                     f"{'pass' if c['passed'] else 'FAIL'} |")
    if gate["reasons"]:
        lines += ["", "Rejected because:", ""] + [f"- {r}" for r in gate["reasons"]]
    lines += ["", "![training and validation loss](loss.png)", "", "## Sample answers", ""]
    for s in report["samples"]:
        lines += [f"**Q:** {s['question']}", "", f"- reference: {s['reference']}", f"- base: {s['base']}",
                  f"- adapter: {s['adapter']}", ""]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / "report.md", folder / "report.json"
    js.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    md.write_text(to_markdown(report), encoding="utf-8")
    return md, js
