"""The onnx backend's model in the model process: one ONNX Runtime session, many chats, one KV cache.

Used by onnx_process.py (the child process); not imported by the server's process.

The model folder is onnxruntime-genai's (model.onnx with GroupQueryAttention, genai_config.json), run
with plain onnxruntime: onnxruntime-genai's own continuous batching needs a paged-KV model that its CPU
builder does not emit. GroupQueryAttention takes each row's length from its attention mask
(seqlens_k = sum(mask) - 1) and writes new keys and values at that position of the cache buffer it is
given as both past and present (shared buffer). So rows are right-padded: row r holds its tokens at
cache positions [0, len_r), and one decode step over n rows is one model call with input_ids [n, 1] and
a mask that is 1 for each row's tokens plus the new one. Every row computes exactly what it computes
alone (tested, with w8a8's per-row activation scales), which a decode batch needs.

Two models, one cache: model.onnx (w8a8) prefills and decodes steps of 3 or more rows; decode.onnx, where the
folder has one (assistant/engine/decode_model.py: the GGUF's own 4-bit weights), decodes steps of at most
DECODE_ROWS rows, where it is faster (a step of 1 / 2 / 3 / 4 / 16 rows took 0.80 / 0.85 / 1.01 / 1.04 / 1.12x
w8a8's time, 2 threads, ~300-token contexts; its prefill took 1.48x). Both write the same keys and values
(the same attention layers). The price: the models round differently, so a chat's tokens depend on whether
more than DECODE_ROWS chats decode with it; with decode.onnx off (`small_decode=False`) they do not.

Slots: one buffer per layer and kind, [slots, kv_heads, capacity, head_dim]. Slots [0, active) are the
running rows, in order; a finished row is swapped to the end of them and stays there, parked, with
its tokens: a later prompt that starts with the same tokens (every grounded prompt opens with the
same system rules; a conversation's next turn repeats its history) takes that slot and prefills only
the rest (prefix cache). Capacity grows in steps of GROW tokens as rows lengthen, and is kept.
Memory: 46 KB of fp32 keys and values per slot and position for the default model (30 layers x 2 x 3 kv
heads x 64), so at most (MAX_BATCH_SIZE + 2) x MAX_CONTEXT_TOKENS x 46 KB (backends/base.py): 1.7 GB with the
defaults (16, 2048); ~0.3 GB for 16 chats of ~400 tokens.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

GROW = 256  # cache positions added at a time: each growth copies every slot once
PARKED = 2  # finished rows kept beyond the running ones, for their prefixes
MIN_REUSE = 8  # shorter shared prefixes are not worth a slot copy
DECODE_ROWS = 2  # decode steps of at most this many rows use decode.onnx, when there is one


def available_cores() -> int:
    """Cores this process may run on (the container's or taskset's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def shared_prefix(cached: list[int], prompt: list[int]) -> int:
    """Leading tokens `prompt` shares with `cached`; at most len(prompt) - 1, since the last one must be fed."""
    limit = min(len(cached), len(prompt) - 1)
    n = 0
    while n < limit and cached[n] == prompt[n]:
        n += 1
    return n


class BatchSession:
    """add() a chat (prefill), step() every running chat by one token, drop() a finished one."""

    def __init__(self, folder: str | Path, threads: int, max_rows: int, small_decode: bool = True) -> None:
        import onnxruntime as ort

        self._ort = ort
        folder = Path(folder)
        decoder = json.loads((folder / "genai_config.json").read_text())["model"]["decoder"]
        self.kv_heads, self.head_dim = decoder["num_key_value_heads"], decoder["head_size"]
        options = ort.SessionOptions()
        # threads=0 (base.THREADS) means every core; onnxruntime's own default counts the host's cores
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.decoder = None
        if small_decode and (folder / "decode.onnx").exists():
            self.decoder = ort.InferenceSession(str(folder / "decode.onnx"), options,
                                                providers=["CPUExecutionProvider"])
        self.last_model = ""  # "decode" or "model": which one ran the last step (observability, tests)
        pasts = [i.name for i in self.session.get_inputs() if i.name.startswith("past_key_values.")]
        self.names = [(p, p.replace("past_key_values.", "present.")) for p in pasts]
        self.max_slots = max_rows + PARKED
        self.buffers: list[np.ndarray] = []
        self.slots = self.capacity = 0
        self.tokens: list[list[int]] = []  # what each slot's cache holds
        self.seq_ids: list[int | None] = []  # the running chat in each slot; None when parked
        self.active = 0
        self.last_reused = 0

    # -- the cache ---------------------------------------------------------------------------
    def _ensure(self, slots: int, capacity: int) -> None:
        if slots <= self.slots and capacity <= self.capacity:
            return
        slots = max(slots, min(self.max_slots, 2 * self.slots))  # doubling: few whole-cache copies
        capacity = max(self.capacity, -(-capacity // GROW) * GROW)
        shape = (slots, self.kv_heads, capacity, self.head_dim)
        grown = [np.zeros(shape, np.float32) for _ in self.names]
        for new, old in zip(grown, self.buffers, strict=False):
            new[: self.slots, :, : self.capacity] = old
        self.buffers, self.slots, self.capacity = grown, slots, capacity
        self.tokens += [[] for _ in range(slots - len(self.tokens))]
        self.seq_ids += [None] * (slots - len(self.seq_ids))

    def _swap(self, a: int, b: int) -> None:
        if a == b:
            return
        n = max(len(self.tokens[a]), len(self.tokens[b]))
        for buf in self.buffers:
            held = buf[a, :, :n].copy()
            buf[a, :, :n] = buf[b, :, :n]
            buf[b, :, :n] = held
        self.tokens[a], self.tokens[b] = self.tokens[b], self.tokens[a]
        self.seq_ids[a], self.seq_ids[b] = self.seq_ids[b], self.seq_ids[a]

    def _run(self, rows: slice, input_ids: np.ndarray, mask: np.ndarray, session: Any = None) -> np.ndarray:
        binding = (session or self.session).io_binding()
        binding.bind_cpu_input("input_ids", input_ids)
        binding.bind_cpu_input("attention_mask", mask)
        binding.bind_output("logits")
        for buf, (past, present) in zip(self.buffers, self.names, strict=True):
            value = self._ort.OrtValue.ortvalue_from_numpy(buf[rows])  # a view: the model writes in place
            binding.bind_ortvalue_input(past, value)
            binding.bind_ortvalue_output(present, value)
        (session or self.session).run_with_iobinding(binding)
        # logits only (copy_outputs_to_cpu would copy every cache buffer too), copied out of memory that the
        # binding owns and frees
        return np.array(binding.get_outputs()[0].numpy()[:, -1], copy=True)

    # -- chats -------------------------------------------------------------------------------
    def add(self, seq_id: int, prompt: list[int]) -> np.ndarray:
        """Prefill `prompt` as a new running row; its next-token logits. `last_reused`: tokens from the cache."""
        if self.active >= self.max_slots - PARKED:
            raise RuntimeError(f"the batch is full ({self.active} rows)")
        row = self.active
        self._ensure(row + 1, len(prompt) + 1)
        best, reused = row, 0
        for slot in range(self.slots):
            n = shared_prefix(self.tokens[slot], prompt)
            if n > reused:
                best, reused = slot, n
        if reused < MIN_REUSE:
            reused = 0
        elif best >= row:  # parked: take its slot as it is
            self._swap(best, row)
        else:  # running: copy its prefix
            for buf in self.buffers:
                buf[row, :, :reused] = buf[best, :, :reused]
        self.tokens[row] = []  # invalid until the prefill succeeds
        ids = np.asarray([prompt[reused:]], np.int64)
        logits = self._run(slice(row, row + 1), ids, np.ones((1, len(prompt)), np.int64))
        self.tokens[row], self.seq_ids[row] = list(prompt), seq_id
        self.active += 1
        self.last_reused = reused
        return logits[0]

    def step(self, fed: dict[int, int]) -> dict[int, np.ndarray]:
        """Feed each running chat its next token (seq_id -> token); each chat's next-token logits."""
        rows = self.seq_ids[: self.active]
        if set(rows) != set(fed):
            raise RuntimeError("a step must feed every running chat once")
        width = max(len(self.tokens[r]) for r in range(self.active)) + 1
        self._ensure(self.active, width)
        mask = np.zeros((self.active, width), np.int64)
        for r in range(self.active):
            mask[r, : len(self.tokens[r]) + 1] = 1
        ids = np.asarray([[fed[s]] for s in rows], np.int64)
        small = self.decoder is not None and self.active <= DECODE_ROWS
        self.last_model = "decode" if small else "model"
        logits = self._run(slice(0, self.active), ids, mask, self.decoder if small else None)
        for r, s in enumerate(rows):
            self.tokens[r].append(fed[s])
        return {s: logits[r] for r, s in enumerate(rows)}

    def drop(self, seq_id: int) -> None:
        """The chat left: its row is parked after the running ones, its cache kept for prefix reuse."""
        if seq_id not in self.seq_ids[: self.active]:
            return
        row = self.seq_ids.index(seq_id)
        self._swap(row, self.active - 1)
        self.active -= 1
        self.seq_ids[self.active] = None
        # keep at most PARKED parked slots holding tokens: the nearest ones are reused first
        for slot in range(self.active + PARKED, self.slots):
            self.tokens[slot] = []

    def reset(self) -> None:
        """Forget every chat and cached prefix: after a failed model call (nothing in the cache can be trusted)."""
        self.tokens = [[] for _ in range(self.slots)]
        self.seq_ids = [None] * self.slots
        self.active = 0

    def running(self) -> list[int]:
        return [s for s in self.seq_ids[: self.active] if s is not None]
