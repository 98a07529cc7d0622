"""The training example: one assistant reply with the question it answers and the turns before it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from assistant.engine.prompt import Turn

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form used for deduplication and split grouping."""
    return _SPACE.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class Example:
    """A supervised turn: the model sees `history` + `question` (through the prompt builder) and learns `answer`."""

    question: str
    answer: str
    history: tuple[Turn, ...] = ()
    source: str = "chat"  # chat | csv | review
    origin: str = ""  # "file:line" of the conversation it came from
    group: str = ""  # examples of one conversation share a group, so a split never separates them
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def key(self) -> tuple[str, ...]:
        """Identity for deduplication: same context, question and answer up to case and spacing."""
        turns = tuple(f"{t.role}:{normalise(t.content)}" for t in self.history)
        return (*turns, normalise(self.question), normalise(self.answer))

    def texts(self) -> list[str]:
        return [t.content for t in self.history] + [self.question, self.answer]

    def with_texts(self, texts: list[str]) -> Example:
        """The same example with its history, question and answer replaced (in `texts()` order)."""
        n = len(self.history)
        history = tuple(Turn(t.role, texts[i]) for i, t in enumerate(self.history))
        return replace(self, history=history, question=texts[n], answer=texts[n + 1])
