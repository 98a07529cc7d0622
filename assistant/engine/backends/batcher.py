"""The decode batch of the transformers backend: many sequences share one forward pass per step.

Rows are left-padded so that every row's newest token sits in the last cache column; one 2-D
attention mask marks the padding and explicit position ids keep each row's positions as if it ran
alone. Newcomers join at step boundaries: they are prefilled together in a separate pass (left-padded
among themselves), then their KV cache is left-padded to the running batch's length and concatenated
on the batch axis. Finished or cancelled rows leave with a batch-select of the cache, and cache
columns that have become padding for every row are trimmed, so the batch never pays for departed rows.
Cache layers keep spare room on the sequence axis (SpareLayer): a decode step writes its new keys and
values in place instead of concatenating, which would copy the whole cache (all rows) every step.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from transformers.cache_utils import DynamicLayer

from assistant.engine.backends.base import BackendError, GenerationRequest

DONE = object()
SPARE_TOKENS = 64  # decode steps between reallocations of a layer's buffers


class SpareLayer(DynamicLayer):
    """A DynamicLayer whose keys/values are views into buffers with spare room: appends write in place.

    Anything that replaces `keys`/`values` (batch-select, trim, merge) leaves a tensor that is not a
    prefix view of the buffer; the next update notices and copies it into a fresh buffer once.
    """

    _kbuf: torch.Tensor | None = None
    _vbuf: torch.Tensor | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized or self.keys.numel() == 0:
            return super().update(key_states, value_states, *args, **kwargs)
        length, new = self.keys.shape[-2], self.keys.shape[-2] + key_states.shape[-2]
        if not self._owns_views() or new > self._kbuf.shape[-2]:
            self._kbuf = self._spare_copy(self.keys, new)
            self._vbuf = self._spare_copy(self.values, new)
        self._kbuf[:, :, length:new] = key_states
        self._vbuf[:, :, length:new] = value_states
        self.keys, self.values = self._kbuf[:, :, :new], self._vbuf[:, :, :new]
        return self.keys, self.values

    def _owns_views(self) -> bool:
        buf = self._kbuf
        return (buf is not None and self.keys.data_ptr() == buf.data_ptr() and self.keys.stride() == buf.stride()
                and self.values.data_ptr() == self._vbuf.data_ptr() and self.values.shape == self.keys.shape)

    @staticmethod
    def _spare_copy(states: torch.Tensor, need: int) -> torch.Tensor:
        batch, heads, length, dim = states.shape
        buf = states.new_empty((batch, heads, need + SPARE_TOKENS, dim))
        buf[:, :, :length] = states
        return buf


@dataclass
class Sequence:
    """One request in flight: prompt, sampling state and the channel back to its consumer's event loop."""

    request: GenerationRequest
    prompt: list[int]
    max_new: int
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue
    cancelled: threading.Event = field(default_factory=threading.Event)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    generated: list[int] = field(default_factory=list)
    text: str = ""
    emitted: int = 0
    pending: int | None = None  # sampled, not yet fed to the model
    pos: int = 0  # real tokens of this row in the cache
    done: bool = False
    generator: torch.Generator | None = None

    def __post_init__(self) -> None:
        self.prompt_tokens = len(self.prompt)
        seed = self.request.sampling.seed
        if self.request.sampling.temperature > 0:
            self.generator = torch.Generator(device="cpu")
            if seed is not None:
                self.generator.manual_seed(seed)
            else:
                self.generator.seed()

    def send(self, item: Any) -> None:
        self.loop.call_soon_threadsafe(self.out.put_nowait, item)

    def fail(self, exc: BaseException) -> None:
        self.done = True
        self.send(exc if isinstance(exc, BackendError) else BackendError(f"generation failed: {exc}"))

    def accept(self, token: int, eos: set[int], tokenizer: Any) -> None:
        """Take the next sampled token: stream what is safe to show, or finish the row."""
        if token in eos:
            return self._finish("stop")
        self.generated.append(token)
        text = tokenizer.decode(self.generated, skip_special_tokens=True)
        stops = self.request.sampling.stop
        hits = [text.find(s) for s in stops if s and s in text]
        if hits:
            self.text = text[: min(hits)]
            return self._finish("stop")
        self.text = text
        if len(self.generated) >= self.max_new:
            return self._finish("length")
        # hold back what could still become a stop string, and an incomplete UTF-8 sequence (U+FFFD)
        holdback = max((len(s) for s in stops), default=1) - 1
        safe = len(text) - 1 if text.endswith("\ufffd") else len(text) - holdback
        if safe > self.emitted:
            self.send(text[self.emitted:safe])
            self.emitted = safe
        self.pending = token

    def _finish(self, reason: str) -> None:
        self.done = True
        self.pending = None
        self.finish_reason = reason
        self.completion_tokens = len(self.generated)
        text = self.text.rstrip("\ufffd")
        if len(text) > self.emitted:
            self.send(text[self.emitted:])
        self.send(DONE)


class DecodeBatch:
    """The running rows, their shared KV cache and attention mask; driven by the backend's worker thread."""

    def __init__(self, model: Any, tokenizer: Any, device: str, eos: set[int], pad_id: int) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.eos = eos
        self.pad_id = pad_id
        self.rows: list[Sequence] = []
        self.cache: Any = None
        self.mask: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.rows)

    # -- admission ---------------------------------------------------------------------------
    def admit(self, newcomers: list[Sequence]) -> None:
        """Prefill `newcomers` in one left-padded pass, sample their first token, merge them into the batch."""
        width = max(len(s.prompt) for s in newcomers)
        ids = torch.full((len(newcomers), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(newcomers), width), dtype=torch.long)
        for i, s in enumerate(newcomers):
            ids[i, width - len(s.prompt):] = torch.tensor(s.prompt)
            mask[i, width - len(s.prompt):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                             position_ids=positions.to(self.device), use_cache=True, logits_to_keep=1)
        for s in newcomers:
            s.pos = len(s.prompt)
        self._sample(newcomers, out.logits[:, -1])
        for layer in out.past_key_values.layers:
            if type(layer) is DynamicLayer:
                layer.__class__ = SpareLayer  # same state, in-place appends
        self._merge(out.past_key_values, mask.to(self.device), newcomers)
        self.prune()

    def _merge(self, cache: Any, mask: torch.Tensor, newcomers: list[Sequence]) -> None:
        if self.cache is None or not self.rows:
            self.cache, self.mask, self.rows = cache, mask, list(newcomers)
            return
        have, new = self.mask.shape[1], mask.shape[1]
        length = max(have, new)
        for old_layer, new_layer in zip(self.cache.layers, cache.layers, strict=True):
            for name in ("keys", "values"):
                a, b = getattr(old_layer, name), getattr(new_layer, name)
                a = F.pad(a, (0, 0, length - have, 0))  # left-pad the sequence axis (dim -2)
                b = F.pad(b, (0, 0, length - new, 0))
                setattr(old_layer, name, torch.cat([a, b], dim=0))
        self.mask = torch.cat([F.pad(self.mask, (length - have, 0)), F.pad(mask, (length - new, 0))], dim=0)
        self.rows.extend(newcomers)

    # -- decoding ----------------------------------------------------------------------------
    def step(self) -> None:
        """One forward pass over every running row's pending token."""
        if not self.rows:
            return
        ids = torch.tensor([[s.pending] for s in self.rows], device=self.device)
        positions = torch.tensor([[s.pos] for s in self.rows], device=self.device)
        self.mask = F.pad(self.mask, (0, 1), value=1)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=self.mask, position_ids=positions,
                             past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
        for s in self.rows:
            s.pos += 1
        self._sample(self.rows, out.logits[:, -1])
        self.prune()

    def _sample(self, rows: list[Sequence], logits: torch.Tensor) -> None:
        logits = logits.float()
        greedy = logits.argmax(dim=-1).tolist()
        for i, s in enumerate(rows):
            sampling = s.request.sampling
            if sampling.temperature > 0:
                token = _sample_one(logits[i], sampling.temperature, sampling.top_p, s.generator)
            else:
                token = greedy[i]
            s.accept(token, self.eos, self.tokenizer)

    def prune(self) -> None:
        """Drop finished and cancelled rows (batch-select the cache) and columns that are padding for all."""
        for s in self.rows:
            if s.cancelled.is_set() and not s.done:
                s.done, s.finish_reason, s.completion_tokens = True, "cancelled", len(s.generated)
        keep = [i for i, s in enumerate(self.rows) if not s.done]
        if len(keep) == len(self.rows):
            return
        if not keep:
            self.rows, self.cache, self.mask = [], None, None
            return
        index = torch.tensor(keep, device=self.device)
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        self.rows = [self.rows[i] for i in keep]
        first = int(self.mask.any(dim=0).nonzero()[0])
        if first:
            for layer in self.cache.layers:
                layer.keys = layer.keys[..., first:, :]
                layer.values = layer.values[..., first:, :]
            self.mask = self.mask[:, first:]

    def fail_all(self, exc: BaseException) -> None:
        for s in self.rows:
            s.fail(exc)
        self.rows, self.cache, self.mask = [], None, None


def _sample_one(logits: torch.Tensor, temperature: float, top_p: float, generator: Any) -> int:
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p
        sorted_probs = torch.where(keep, sorted_probs, torch.zeros_like(sorted_probs))
        choice = torch.multinomial(sorted_probs / sorted_probs.sum(), 1, generator=generator)
        return int(order[choice])
    return int(torch.multinomial(probs, 1, generator=generator))
