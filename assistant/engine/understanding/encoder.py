"""Sentence encoder (the embedded MiniLM) split into frozen lower layers and trainable top layers.

Fine-tuning only the top layers lets training run the frozen part once and cache its token
states, so each epoch costs about one forward pass: this is what keeps a full BANKING77
fine-tune inside the CPU time budget. At inference the whole stack runs as one model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer


@dataclass
class LowerBatch:
    """Frozen-layer token states of one length-sorted batch, with the rows they belong to."""

    rows: np.ndarray
    hidden: torch.Tensor
    mask: torch.Tensor


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, T) 0/1 padding mask -> (B, 1, 1, T) additive mask accepted by eager and SDPA attention."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def pad_batches(states: list[torch.Tensor], rows: np.ndarray, batch_size: int,
                rng: np.random.Generator | None = None) -> list[LowerBatch]:
    """Batches of the given rows, grouped by length to limit padding; shuffled within and across groups by `rng`."""
    rows = np.asarray(rows)
    if rng is not None:
        rows = rng.permutation(rows)
    # sort by length in chunks of 50 batches: little padding, yet a different mix every epoch
    chunk = batch_size * 50
    ordered = np.concatenate([
        part[np.argsort([states[i].shape[0] for i in part], kind="stable")]
        for part in (rows[i:i + chunk] for i in range(0, len(rows), chunk))
    ]) if len(rows) else rows
    batches = []
    for start in range(0, len(ordered), batch_size):
        picked = ordered[start:start + batch_size]
        longest = max(states[i].shape[0] for i in picked)
        dim = states[picked[0]].shape[1]
        hidden = torch.zeros(len(picked), longest, dim)
        mask = torch.zeros(len(picked), longest, dtype=torch.long)
        for j, i in enumerate(picked):
            n = states[i].shape[0]
            hidden[j, :n] = states[i]
            mask[j, :n] = 1
        batches.append(LowerBatch(picked, hidden, mask))
    if rng is not None:
        order = rng.permutation(len(batches))
        batches = [batches[i] for i in order]
    return batches


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


class Encoder(torch.nn.Module):
    def __init__(self, model_dir: str | Path, max_length: int = 64) -> None:
        super().__init__()
        self.model_dir = Path(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
        self.max_length = max_length

    @property
    def dim(self) -> int:
        return int(self.bert.config.hidden_size)

    @property
    def n_layers(self) -> int:
        return len(self.bert.encoder.layer)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")

    def run_layers(self, hidden: torch.Tensor, mask: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        extended = additive_mask(mask, hidden.dtype)
        for layer in self.bert.encoder.layer[start:stop]:
            hidden = layer(hidden, extended)
            if isinstance(hidden, tuple):  # older transformers return (hidden,)
                hidden = hidden[0]
        return hidden

    def lower(self, texts: list[str], n_frozen: int, batch_size: int = 32,
              desc: str = "encoding") -> list[LowerBatch]:
        """Token states after the embeddings and the first `n_frozen` layers, in length-sorted batches."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        batches: list[LowerBatch] = []
        # no_grad, not inference_mode: cached states are later fed to layers that are being trained
        with torch.no_grad():
            for start in tqdm(range(0, len(texts), batch_size), desc=desc, unit="batch", leave=False):
                rows = order[start:start + batch_size]
                enc = self.tokenize([texts[i] for i in rows])
                hidden = self.bert.embeddings(input_ids=enc["input_ids"], token_type_ids=enc.get("token_type_ids"))
                hidden = self.run_layers(hidden, enc["attention_mask"], 0, n_frozen)
                batches.append(LowerBatch(rows, hidden, enc["attention_mask"]))
        return batches

    def lower_rows(self, texts: list[str], n_frozen: int, batch_size: int = 32,
                   desc: str = "caching frozen layers") -> list[torch.Tensor]:
        """Per-text frozen-layer states without padding, so any subset can be re-batched (folds, epochs)."""
        states: list[torch.Tensor] = [torch.empty(0)] * len(texts)
        for batch in self.lower(texts, n_frozen, batch_size, desc):
            lengths = batch.mask.sum(1).tolist()
            for row, hidden, length in zip(batch.rows, batch.hidden, lengths, strict=True):
                states[int(row)] = hidden[: int(length)].clone()
        return states

    def upper(self, batch: LowerBatch, n_frozen: int) -> torch.Tensor:
        """Mean-pooled sentence vectors from cached lower states through the remaining layers."""
        hidden = self.run_layers(batch.hidden, batch.mask, n_frozen, self.n_layers)
        return mean_pool(hidden, batch.mask)

    def iter_embed(self, texts: list[str], batch_size: int = 64) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        with torch.inference_mode():
            for batch in self.lower(texts, self.n_layers, batch_size, desc="embedding"):
                yield batch.rows, mean_pool(batch.hidden, batch.mask)

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Mean-pooled final-layer vectors (not normalised), in input order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows, pooled in self.iter_embed(texts, batch_size):
            out[rows] = pooled.numpy()
        return out

    def embed_one(self, text: str) -> np.ndarray:
        """Fast path for one live message: no sorting, no progress bar."""
        with torch.inference_mode():
            enc = self.tokenize([text])
            hidden = self.bert(**enc).last_hidden_state
            return mean_pool(hidden, enc["attention_mask"])[0].numpy()
