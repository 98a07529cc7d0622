"""Loaders for FAQ files (CSV or JSONL with question/answer) and JSONL document collections.

Every FAQ row becomes one Document: title = the question, text = the answer, so that the
two fields can be matched separately. JSONL lines of the form {"id","title","text","url"?}
are documents.

A bad row (no answer, a JSONL line that is not a JSON object, a duplicate id) is left out
and reported with its line: pass a `problems` list and each one is appended to it as a
RowProblem, while the file's good rows load (a duplicate id keeps its first row). Without a
list the first bad row fails the whole file (evaluation sets, where every row must count).
A file with no usable row fails whole either way, naming the first reasons.

Line numbers are the file's own, 1-based: a CSV's header is line 1, so its first row is line 2
(the row number a spreadsheet shows). Generated ids count rows ("faq#1" is the first row) and a
bad row keeps its number, so fixing or breaking one row never renumbers the others.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from retrieval.errors import LoaderError
from retrieval.loaders.pages import read_text
from retrieval.schema import Document

QUESTION_KEYS = ("question", "q", "title", "prompt", "query")
ANSWER_KEYS = ("answer", "a", "text", "response", "body", "content")
_MD_HEADING = re.compile(r"^#{1,4} \S", re.M)  # JSONL documents that carry Markdown keep their sections
RESERVED = {"id", "url", *QUESTION_KEYS, *ANSWER_KEYS}
_ID_IN_BROKEN_LINE = re.compile(r'"id"\s*:\s*"((?:[^"\\\n]|\\.)+)"')
_LINES = re.compile(r"\r\n|\r|\n")  # not str.splitlines: JSON strings may hold U+2028 and friends
_REASONS_SHOWN = 3


@dataclass(frozen=True)
class RowProblem:
    """One row left out of a file: its line, why, and the id it has or would have got (when known)."""

    line: int
    reason: str
    doc_id: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class _Rows:
    """Collects a file's documents and problems; enforces unique ids (the first row of an id wins)."""

    def __init__(self, base_id: str, problems: list[RowProblem] | None) -> None:
        self.base_id = base_id
        self.problems = problems
        self.found: list[RowProblem] = []
        self.docs: list[Document] = []
        self.first_line: dict[str, int] = {}

    def bad(self, line: int, reason: str, doc_id: str | None = None) -> None:
        problem = RowProblem(line, reason, doc_id)
        if self.problems is None:
            raise LoaderError(str(problem))
        self.found.append(problem)

    def add(self, row: dict[str, Any], number: int, line: int) -> None:
        row = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
        doc_id = str(row.get("id") or "").strip() or f"{self.base_id}#{number}"
        try:
            doc = _row_document(row, doc_id)
        except LoaderError as exc:
            self.bad(line, str(exc), doc_id)
            return
        except ValidationError as exc:
            self.bad(line, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
            return
        if doc.id in self.first_line:
            self.bad(line, f"duplicate id {doc.id!r} (first on line {self.first_line[doc.id]})", doc.id)
            return
        self.first_line[doc.id] = line
        self.docs.append(doc)

    def result(self) -> list[Document]:
        if not self.docs and self.found:
            shown = "; ".join(str(p) for p in self.found[:_REASONS_SHOWN])
            more = len(self.found) - _REASONS_SHOWN
            raise LoaderError(f"no usable rows: {shown}" + (f" (and {more} more)" if more > 0 else ""))
        if self.problems is not None:
            self.problems.extend(self.found)
        return self.docs


def _pick(row: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = row.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _row_document(row: dict[str, Any], doc_id: str) -> Document:
    question = _pick(row, QUESTION_KEYS)
    answer = _pick(row, ANSWER_KEYS)
    if not answer:
        raise LoaderError("no answer/text value")
    is_faq = any(key in row for key in ("question", "q", "answer", "a"))
    metadata = {k: v for k, v in row.items() if k not in RESERVED and isinstance(v, str | int | float | bool)}
    metadata["format"] = "faq" if is_faq else ("markdown" if _MD_HEADING.search(answer) else "text")
    url = str(row.get("url") or "").strip() or None
    return Document(id=doc_id, title=question, text=answer, url=url, metadata=metadata)


def load_csv(path: Path, base_id: str, problems: list[RowProblem] | None = None) -> list[Document]:
    reader = csv.reader(io.StringIO(read_text(path)))
    header: list[str] = []
    for values in reader:
        if values:
            header = values
            break
    fields = {name.strip().lower() for name in header}
    if not fields & set(ANSWER_KEYS):
        raise LoaderError(
            f"CSV needs an answer column (one of {', '.join(ANSWER_KEYS)}); found {sorted(fields)}"
        )
    rows = _Rows(base_id, problems)
    number = 0
    while True:
        line = reader.line_num + 1  # where this record starts (a quoted field may span lines)
        values = next(reader, None)
        if values is None:
            break
        if not values:  # a blank line
            continue
        number += 1
        row = dict(zip(header, values, strict=False))
        if any(value.strip() for value in row.values()):
            rows.add(row, number, line)
    return rows.result()


def load_jsonl(path: Path, base_id: str, problems: list[RowProblem] | None = None) -> list[Document]:
    rows = _Rows(base_id, problems)
    number = 0
    for line_no, line in enumerate(_LINES.split(read_text(path)), start=1):
        if not line.strip():
            continue
        number += 1
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            guess = _ID_IN_BROKEN_LINE.search(line)
            rows.bad(line_no, f"not valid JSON ({exc.msg})", guess.group(1) if guess else f"{base_id}#{number}")
            continue
        if not isinstance(row, dict):
            rows.bad(line_no, f"expected a JSON object, got {type(row).__name__}", f"{base_id}#{number}")
            continue
        rows.add(row, number, line_no)
    return rows.result()
