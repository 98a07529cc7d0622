"""Understanding: intent (with out-of-scope), sentiment, answer templates, answer policy, handoff.

Heavy parts (torch, the MiniLM) load only when `Understanding` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.engine.understanding.handoff import handoff_payload, post_handoff, summarize
from assistant.engine.understanding.policy import AnswerPolicy, ConversationState, Decision
from assistant.engine.understanding.templates import TemplateBook, TemplateError

if TYPE_CHECKING:
    from assistant.engine.understanding.sentiment import sentiment_trajectory
    from assistant.engine.understanding.understanding import Understanding

__all__ = [
    "AnswerPolicy", "ConversationState", "Decision", "TemplateBook", "TemplateError", "Understanding",
    "handoff_payload", "post_handoff", "sentiment_trajectory", "summarize",
]


def __getattr__(name: str):
    if name == "Understanding":
        from assistant.engine.understanding.understanding import Understanding

        return Understanding
    if name == "sentiment_trajectory":
        from assistant.engine.understanding.sentiment import sentiment_trajectory

        return sentiment_trajectory
    raise AttributeError(name)
