"""The prompt builder: short system rules, history, then the question with its numbered sources.

Used by the server path and by finetune/prepare, so that training matches serving. Output
is a list of chat messages; each backend applies its model's own chat template.

The sources go into the current user turn, next to the question, rather than into the
system message: small models (the 135M default) stay far closer to the facts that way
(measured: with sources in the system message the default model ignored them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

DEFAULT_INSTRUCTION = (
    "Answer in one or two sentences using only the facts in the sources, and cite them like [1]. "
    "If the sources do not answer the question, say that you don't know."
)


# The prompt's own scaffolding. A small model sometimes starts its reply by copying the prompt back
# ("<source>\n[1] ..."); generation stops at these, and an empty reply gets the extractive fallback.
ECHO_STOPS = ["<source", "</source", "\nQuestion:"]


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
    def __init__(self, system_prompt: str, company: str, *, instruction: str = DEFAULT_INSTRUCTION,
                 max_source_chars: int = 700, max_history_turns: int = 6) -> None:
        self.system_prompt = system_prompt.replace("{company}", company)
        self.instruction = instruction
        self.max_source_chars = max_source_chars
        self.max_history_turns = max_history_turns

    def sources_block(self, passages: Sequence[Passage]) -> str:
        lines = ["<sources>"]
        for i, passage in enumerate(passages, start=1):
            body = _quote(passage.text)[: self.max_source_chars]
            lines.append(f"[{i}] {_quote(passage.title)}\n{body}")
        lines.append("</sources>")
        return "\n".join(lines)

    def user_turn(self, question: str, passages: Sequence[Passage] = ()) -> str:
        if not passages:
            return question
        return f"{self.sources_block(passages)}\n\nQuestion: {question}\n{self.instruction}"

    def build(self, question: str, passages: Sequence[Passage] = (),
              history: Sequence[Turn] = ()) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.system_prompt}]
        for turn in list(history)[-self.max_history_turns:]:
            if turn.role in ("user", "assistant") and turn.content.strip():
                messages.append({"role": turn.role, "content": turn.content})
        messages.append({"role": "user", "content": self.user_turn(question, passages)})
        return messages
