"""Readers for the three inputs: OpenAI chat JSONL, question/answer CSV, and the store's review export.

The review export is chat JSONL with a top-level `"source": "review"` (answers an operator approved
or corrected), so it goes through the JSONL reader and keeps its source tag. Malformed input
raises DataError with the file and line; content problems that are not format errors (an empty
turn) are left for `prepare` to drop and count.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant.engine.prompt import Turn
from finetune.errors import DataError, FinetuneError
from finetune.records import Example

ROLES = ("system", "user", "assistant")
QUESTION_HEADERS = {"question", "q", "prompt", "user", "input", "query", "instruction"}
ANSWER_HEADERS = {"answer", "a", "response", "reply", "assistant", "output", "completion"}


def _content(value: Any, path: str, line: int, index: int) -> str:
    # OpenAI also allows content as a list of parts; only text parts carry training signal.
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) for p in value):
        return "".join(str(p.get("text", "")) for p in value if p.get("type", "text") == "text")
    if value is None:
        return ""
    raise DataError(path, line, f"messages[{index}].content must be a string, got {type(value).__name__}")


def examples_from_messages(messages: list[dict[str, Any]], *, path: str, line: int,
                           source: str = "chat") -> list[Example]:
    """Every assistant turn that follows a user turn becomes one example; earlier turns are its history."""
    turns: list[Turn] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise DataError(path, line, f"messages[{i}] must be an object with 'role' and 'content'")
        role = message.get("role")
        if role not in ROLES:
            raise DataError(path, line, f"messages[{i}].role must be one of {', '.join(ROLES)}, got {role!r}")
        if "content" not in message:
            raise DataError(path, line, f"messages[{i}] has no 'content'")
        if role != "system":  # our own system prompt replaces the transcript's, as in serving
            turns.append(Turn(role, _content(message["content"], path, line, i)))
    if not any(t.role == "assistant" for t in turns):
        raise DataError(path, line, "conversation has no assistant turn, so there is nothing to learn from it")
    examples = []
    group = f"{path}:{line}"
    for i, turn in enumerate(turns):
        if turn.role == "assistant" and i > 0 and turns[i - 1].role == "user":
            examples.append(Example(question=turns[i - 1].content, answer=turn.content, history=tuple(turns[: i - 1]),
                                    source=source, origin=group, group=group))
    return examples


def read_jsonl(path: Path) -> list[Example]:
    examples: list[Example] = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataError(str(path), number, f"not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or "messages" not in record:
                raise DataError(str(path), number, "no 'messages' field; expected {\"messages\": [{\"role\", \"content\"}, ...]}")
            messages = record["messages"]
            if not isinstance(messages, list) or not messages:
                raise DataError(str(path), number, "'messages' must be a non-empty list")
            source = str(record.get("source") or "chat")
            examples.extend(examples_from_messages(messages, path=str(path), line=number, source=source))
    return examples


def read_csv(path: Path) -> list[Example]:
    examples: list[Example] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return []
        names = [h.strip().casefold() for h in header]
        if len(names) < 2 or names[0] not in QUESTION_HEADERS or names[1] not in ANSWER_HEADERS:
            raise DataError(str(path), 1, f"the header must start with two columns 'question,answer' "
                                          f"(first the question, second the answer); got {','.join(header)!r}")
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataError(str(path), reader.line_num,
                                f"expected {len(header)} columns like the header, got {len(row)} "
                                "(quote answers that contain commas)")
            origin = f"{path}:{reader.line_num}"
            examples.append(Example(question=row[0], answer=row[1], source="csv", origin=origin, group=origin))
    return examples


def read_inputs(paths: Iterable[Path]) -> list[Example]:
    """Read every file by its extension: .jsonl (chat or review export) or .csv (question,answer)."""
    examples: list[Example] = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FinetuneError(f"input file not found: {path}")
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".json"):
            examples.extend(read_jsonl(path))
        elif suffix == ".csv":
            examples.extend(read_csv(path))
        else:
            raise FinetuneError(f"{path}: unsupported input type {suffix!r}; use .jsonl (OpenAI chat) or .csv")
    return examples
