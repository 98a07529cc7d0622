"""Tokenise rendered conversations for causal-LM training with the loss on the assistant reply only.

The prompt is tokenised with the model's chat template and `add_generation_prompt=True`, exactly as
the serving backend does, so the reply tokens are learned in the context they will be generated in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.errors import FinetuneError

IGNORE = -100


def _ids(encoded: Any) -> list[int]:
    if isinstance(encoded, dict) or hasattr(encoded, "input_ids"):
        encoded = encoded["input_ids"]
    return list(encoded)


def encode(messages: list[dict[str, str]], tokenizer: Any, max_length: int) -> dict[str, list[int]] | None:
    """input_ids / attention_mask / labels, or None when the prompt alone leaves no room for the reply."""
    if not messages or messages[-1]["role"] != "assistant":
        raise FinetuneError("a training row must end with the assistant reply")
    prompt = _ids(tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True))
    full = _ids(tokenizer.apply_chat_template(messages, tokenize=True))
    if full[: len(prompt)] == prompt:
        answer = full[len(prompt):]
    else:  # templates that rewrite earlier turns: fall back to the reply text plus end-of-turn
        answer = _ids(tokenizer(messages[-1]["content"], add_special_tokens=False)) + [tokenizer.eos_token_id]
    # The newline some templates put after the end-of-turn token is never generated; do not train on it.
    while answer and answer[-1] != tokenizer.eos_token_id and tokenizer.decode(answer[-1:]).strip() == "":
        answer = answer[:-1]
    if len(prompt) + 8 > max_length or not answer:
        return None
    answer = answer[: max_length - len(prompt)]
    ids = prompt + answer
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [IGNORE] * len(prompt) + answer}


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FinetuneError(f"{path} not found; run `assistant finetune prepare` first")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise FinetuneError(f"{path}, line {number}: not valid JSON ({exc.msg})") from exc
    return rows


@dataclass
class EncodedSet:
    """A list-backed dataset the Trainer can index; `skipped` counts rows too long for max_length."""

    items: list[dict[str, list[int]]]
    rows: list[dict[str, Any]]
    skipped: int

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.items[index]

    @property
    def answer_tokens(self) -> int:
        return sum(sum(1 for t in item["labels"] if t != IGNORE) for item in self.items)

    @property
    def tokens(self) -> int:
        return sum(len(item["input_ids"]) for item in self.items)


def encode_rows(rows: Sequence[dict[str, Any]], tokenizer: Any, max_length: int) -> EncodedSet:
    items, kept, skipped = [], [], 0
    for row in rows:
        item = encode(row["messages"], tokenizer, max_length)
        if item is None:
            skipped += 1
        else:
            items.append(item)
            kept.append(row)
    return EncodedSet(items, kept, skipped)
