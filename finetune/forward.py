"""The training forward pass: logits only where a reply token is predicted, shared prompt prefix computed once.

Every row starts with the same system prompt (the prompt builder's rules, and the sources block
when there is no retrieved context), usually more than half of its tokens. When all rows of a
batch share such a prefix, it is run once with batch size 1 and its key/value cache is repeated
for the rows, which then only run their own suffix. The loss and gradients are those of the plain
forward (checked in tests/finetune/test_forward.py); only the work changes. Disabled under
gradient checkpointing and multi-process training, where a second forward per step does not fit.
"""

from __future__ import annotations

from typing import Any

import torch

from finetune.tokenization import IGNORE

MIN_SHARED_PREFIX = 8  # below this the extra forward call costs more than it saves


def shared_prefix_length(input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> int:
    """Length of the token prefix common to all rows that contains no label and no padding."""
    if input_ids.size(0) < 2:
        return 0
    same = (input_ids == input_ids[:1]).all(0) & attention_mask.bool().all(0) & labels.eq(IGNORE).all(0)
    length = int(same.long().cumprod(0).sum())
    targets = labels[:, 1:].ne(IGNORE).any(0).nonzero()
    if targets.numel():  # the prefix must end before the first position whose logits we need
        length = min(length, int(targets[0]))
    length = min(length, input_ids.size(1) - 1)
    return length if length >= MIN_SHARED_PREFIX else 0


def reply_logits(model: Any, inputs: dict[str, torch.Tensor], share_prefix: bool) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """(logits at the kept positions [B, K, V], their target ids [B, K], model outputs).

    Kept positions are those whose next token is a reply token in at least one row."""
    input_ids, attention_mask, labels = inputs["input_ids"], inputs["attention_mask"], inputs["labels"]
    targets = labels[:, 1:]
    keep = targets.ne(IGNORE).any(dim=0).nonzero().squeeze(-1)
    prefix = shared_prefix_length(input_ids, attention_mask, labels) if share_prefix else 0
    if prefix:
        head = model(input_ids=input_ids[:1, :prefix], attention_mask=attention_mask[:1, :prefix], use_cache=True)
        cache = head.past_key_values
        cache.batch_repeat_interleave(input_ids.size(0))
        outputs = model(input_ids=input_ids[:, prefix:], attention_mask=attention_mask, past_key_values=cache,
                        use_cache=True, logits_to_keep=keep - prefix)
    else:
        outputs = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, logits_to_keep=keep)
    return outputs.logits, targets[:, keep], outputs
