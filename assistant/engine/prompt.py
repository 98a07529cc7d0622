"""The prompt builder: system rules + numbered sources quoted as data + history + the question.

Used by the server path and by finetune/prepare, so that training matches serving. Output
is a list of chat messages; each backend applies its model's own chat template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Passage(Protocol):
    title: str
    text: str


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    content: str


def _quote(text: str) -> str:
    # Sources are data: neutralise our own delimiters so a document cannot close the block
    # and smuggle instructions outside it.
    return text.replace("<sources>", "(sources)").replace("</sources>", "(/sources)").strip()


class PromptBuilder:
    def __init__(self, system_prompt: str, company: str, *, max_source_chars: int = 700,
                 max_history_turns: int = 6) -> None:
        self.system_prompt = system_prompt.replace("{company}", company)
        self.max_source_chars = max_source_chars
        self.max_history_turns = max_history_turns

    def sources_block(self, passages: Sequence[Passage]) -> str:
        if not passages:
            return "<sources>\n(no relevant sources were found)\n</sources>"
        lines = ["<sources>"]
        for i, passage in enumerate(passages, start=1):
            body = _quote(passage.text)[: self.max_source_chars]
            lines.append(f"[{i}] {_quote(passage.title)}\n{body}")
        lines.append("</sources>")
        return "\n".join(lines)

    def build(self, question: str, passages: Sequence[Passage] = (),
              history: Sequence[Turn] = ()) -> list[dict[str, str]]:
        system = f"{self.system_prompt}\n\n{self.sources_block(passages)}"
        messages = [{"role": "system", "content": system}]
        for turn in list(history)[-self.max_history_turns:]:
            if turn.role in ("user", "assistant") and turn.content.strip():
                messages.append({"role": turn.role, "content": turn.content})
        messages.append({"role": "user", "content": question})
        return messages
