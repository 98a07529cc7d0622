"""Loaders for FAQ files (CSV or JSONL with question/answer) and JSONL document collections.

Every FAQ row becomes one Document: title = the question, text = the answer, so that the
two fields can be matched separately. JSONL lines of the form {"id","title","text","url"?}
are documents. A bad row fails the whole file (with its line number), so a file is
either ingested completely or left as it was.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from retrieval.errors import LoaderError
from retrieval.loaders.pages import read_text
from retrieval.schema import Document

QUESTION_KEYS = ("question", "q", "title", "prompt", "query")
ANSWER_KEYS = ("answer", "a", "text", "response", "body", "content")
_MD_HEADING = re.compile(r"^#{1,4} \S", re.M)  # JSONL documents that carry Markdown keep their sections
RESERVED = {"id", "url", *QUESTION_KEYS, *ANSWER_KEYS}


def _pick(row: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = row.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _row_document(row: dict[str, Any], base_id: str, number: int, where: str) -> Document:
    row = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    question = _pick(row, QUESTION_KEYS)
    answer = _pick(row, ANSWER_KEYS)
    if not answer:
        raise LoaderError(f"{where}: no answer/text value")
    doc_id = str(row.get("id") or "").strip() or f"{base_id}#{number}"
    is_faq = any(key in row for key in ("question", "q", "answer", "a"))
    metadata = {k: v for k, v in row.items() if k not in RESERVED and isinstance(v, str | int | float | bool)}
    metadata["format"] = "faq" if is_faq else ("markdown" if _MD_HEADING.search(answer) else "text")
    url = str(row.get("url") or "").strip() or None
    return Document(id=doc_id, title=question, text=answer, url=url, metadata=metadata)


def _check_unique(docs: list[Document]) -> list[Document]:
    seen: set[str] = set()
    for doc in docs:
        if doc.id in seen:
            raise LoaderError(f"duplicate id {doc.id!r}")
        seen.add(doc.id)
    return docs


def load_csv(path: Path, base_id: str) -> list[Document]:
    reader = csv.DictReader(io.StringIO(read_text(path)))
    fields = {(name or "").strip().lower() for name in reader.fieldnames or []}
    if not fields & set(ANSWER_KEYS):
        raise LoaderError(
            f"CSV needs an answer column (one of {', '.join(ANSWER_KEYS)}); found {sorted(fields)}"
        )
    docs = [
        _row_document(row, base_id, number, f"row {number}")
        for number, row in enumerate(reader, start=1)
        if any((value or "").strip() for value in row.values() if isinstance(value, str))
    ]
    return _check_unique(docs)


def load_jsonl(path: Path, base_id: str) -> list[Document]:
    docs: list[Document] = []
    number = 0
    for line_no, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoaderError(f"line {line_no}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise LoaderError(f"line {line_no}: expected a JSON object, got {type(row).__name__}")
        number += 1
        docs.append(_row_document(row, base_id, number, f"line {line_no}"))
    return _check_unique(docs)
