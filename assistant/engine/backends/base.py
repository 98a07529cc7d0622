"""The backend protocol every generation engine implements (onnx, transformers, vllm, openai, fake).

A backend takes chat messages (already grounded by the prompt builder), renders them with
its own chat template, and streams text deltas. Cancellation: closing the async iterator
(or cancelling the task consuming it) must stop generation and free its slot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from assistant.engine.errors import AdapterNotFound, BackendError, QueueFull  # noqa: F401 - re-exported

# Serving limits of the local engines. Not settings: they bound one process's memory and latency, and a
# request can still ask for fewer tokens. The load tests (tests/load/) and bench/engines.py run with them.
MAX_CONTEXT_TOKENS = 2048  # prompt + answer budget in tokens; grounded prompts take a few hundred
# chats an engine decodes together (onnxruntime-genai's static batch, vLLM's max_num_seqs); more chats
# wait longer for their first token
MAX_BATCH_SIZE = 16
QUEUE_SIZE = 64  # waiting requests beyond which the server answers 503 + Retry-After
THREADS = 0  # torch / ONNX Runtime threads; 0 = every core (OMP_NUM_THREADS still applies)
DEVICE = "auto"  # where the chat model runs: cuda when torch sees a GPU, else cpu
DTYPE = "auto"  # weights in memory: bfloat16 on a GPU, float32 on a CPU (CPUs lack fast bfloat16 kernels)


@dataclass
class SamplingParams:
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 200
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    # Repetition controls, in the engines' own terms (1.0 / 0 = off). Both count the prompt's tokens too in
    # every engine here, so they also push the model away from quoting its sources; off by default
    # (docs/benchmarks.md, "Repetition controls"). Engines without no-repeat n-grams (vllm, openai) ignore it.
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    def validate(self) -> None:
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError("temperature must be within [0, 2]")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("top_p must be within (0, 1]")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if not 0.0 < self.repetition_penalty <= 2.0:
            raise ValueError("repetition_penalty must be within (0, 2]")
        if self.no_repeat_ngram_size < 0:
            raise ValueError("no_repeat_ngram_size must be at least 0")


@dataclass
class GenerationRequest:
    messages: list[dict[str, str]]
    sampling: SamplingParams = field(default_factory=SamplingParams)
    adapter: str | None = None
    request_id: str = ""


@dataclass
class Generation:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


def prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """The prompt's token ids after the model's own chat template: every local backend renders prompts alike."""
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "input_ids"):
        ids = ids["input_ids"]
    return list(ids)


@runtime_checkable
class Backend(Protocol):
    name: str
    model_id: str
    max_context_tokens: int

    async def start(self) -> None:
        """Load weights and warm up. Raise BackendError with a clear message if unusable."""

    async def close(self) -> None: ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Yield text deltas. Joined, they equal `generate(request).text`."""
        ...

    async def generate(self, request: GenerationRequest) -> Generation: ...

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        """Prompt length in tokens after the chat template, for context budgeting."""
        ...

    def adapters(self) -> list[str]:
        """Names of the LoRA adapters this backend can serve."""
        ...

    def queue_depth(self) -> int:
        """Requests waiting for a slot (for 503 back-pressure and metrics)."""
        ...
