"""Render examples into chat messages exactly as serving does, optionally with retrieved sources.

Serving (assistant.engine.facade) builds `PromptBuilder(settings.system_prompt, settings.company)`
and grounds it on `retriever.search(question, top_k, namespace)`, cut by the same `SourceSelector`
(the top passages' sentences closest to the question); we do the same here so that the adapter is
trained on the prompts it will be served with.
"""

from __future__ import annotations

from typing import Any

from assistant.engine.context import SourceSelector
from assistant.engine.prompt import PromptBuilder
from assistant.engine.settings import Settings
from finetune.errors import FinetuneError
from finetune.records import Example


def serving_prompt_builder(settings: Settings) -> PromptBuilder:
    return PromptBuilder(settings.system_prompt, settings.company)


def open_serving_retriever(settings: Settings) -> Any:
    """The serving index (ingesting the configured KB on first use), for training with retrieved context."""
    try:
        from assistant.engine.knowledge import open_retriever
    except ImportError as exc:
        raise FinetuneError(f"retrieved context needs the engine's knowledge module: {exc}") from exc
    return open_retriever(settings, progress=True)


class Renderer:
    def __init__(self, builder: PromptBuilder, retriever: Any = None, top_k: int = 4,
                 namespace: str = "default", selector: SourceSelector | None = None) -> None:
        self.builder = builder
        self.selector = selector
        self.retriever = retriever
        self.top_k = top_k
        self.namespace = namespace

    def prompt(self, example: Example) -> list[dict[str, str]]:
        passages = self.retriever.search(example.question, self.top_k, self.namespace) if self.retriever else []
        if passages and self.selector is not None:
            passages = self.selector.select(example.question, passages)
        return self.builder.build(example.question, passages, example.history)

    def render(self, example: Example) -> list[dict[str, str]]:
        return [*self.prompt(example), {"role": "assistant", "content": example.answer}]
