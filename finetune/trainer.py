"""The Trainer subclass: loss on assistant tokens only, with the lean forward pass of finetune.forward.

The prompt (system rules, sources, history) is usually most of a row, so projecting only the
positions that predict a reply token onto the 49k-word vocabulary, and running the shared system
prompt once per batch, save most of the compute on CPU without changing the loss. A meter counts
the real (non-padding) tokens of every row and the time spent in optimizer steps, so tokens/s
excludes evaluation and checkpointing.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from transformers import Trainer, TrainerCallback

from finetune.forward import reply_logits
from finetune.tokenization import IGNORE


def answer_loss(model: Any, inputs: dict[str, torch.Tensor], num_items_in_batch: torch.Tensor | int | None = None,
                share_prefix: bool = False) -> tuple[torch.Tensor, Any]:
    """Summed next-token cross-entropy over reply tokens, divided by the token count."""
    logits, targets, outputs = reply_logits(model, inputs, share_prefix)
    loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else targets.ne(IGNORE).sum().clamp(min=1)
    if torch.is_tensor(count):
        count = count.to(loss.device)
    return loss / count, outputs


class ThroughputMeter(TrainerCallback):
    """Wall time of optimizer steps (forward, backward, update) and the real tokens they consumed."""

    def __init__(self) -> None:
        self.tokens = 0
        self.seconds = 0.0
        self._started: float | None = None

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._started = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


class AnswerOnlyTrainer(Trainer):
    def __init__(self, *args: Any, share_prefix: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meter = ThroughputMeter()
        self.add_callback(self.meter)
        # A second forward per step does not mix with activation recomputation or DDP/FSDP gradient hooks.
        self.share_prefix = share_prefix and not self.args.gradient_checkpointing and self.args.world_size == 1

    def compute_loss(self, model: Any, inputs: dict[str, torch.Tensor], return_outputs: bool = False,
                     num_items_in_batch: torch.Tensor | int | None = None) -> Any:
        if not self.model_accepts_loss_kwargs:
            num_items_in_batch = None  # then the Trainer divides by the accumulation steps itself
        loss, outputs = answer_loss(model, inputs, num_items_in_batch, self.share_prefix)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # DDP averages gradients over ranks
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
        self.meter.tokens += int(inputs["attention_mask"].sum())
        return super().training_step(model, inputs, num_items_in_batch)
