"""Scores that need the language model: reply loss, answer-ranking accuracy and greedy generation.

Answer ranking asks whether the model prefers each question's reference reply over replies to
other questions (the mean reply loss must be lowest for the right one). Lowering the loss of
replies in general, for instance by learning the store's tone, does not move it; learning which
answer goes with which question does. This is what catches an adapter trained on shuffled pairs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch
from tqdm import tqdm
from transformers import DataCollatorForSeq2Seq

from finetune.forward import reply_logits
from finetune.tokenization import IGNORE, EncodedSet, encode


@torch.no_grad()
def reply_losses(model: Any, tokenizer: Any, items: Sequence[dict[str, list[int]]], batch_size: int,
                 desc: str = "loss") -> list[tuple[float, int]]:
    """(summed reply cross-entropy, reply tokens) per row, in order."""
    collate = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE)
    device = next(model.parameters()).device
    out: list[tuple[float, int]] = []
    for start in tqdm(range(0, len(items), batch_size), desc=desc, unit="batch", disable=None, leave=False):
        batch = collate([dict(x) for x in items[start:start + batch_size]])
        logits, targets, _ = reply_logits(model, {k: v.to(device) for k, v in batch.items()}, share_prefix=True)
        nll = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=IGNORE,
                                                reduction="none")
        mask = targets.ne(IGNORE)
        out += [(float(s), int(n)) for s, n in zip((nll * mask).sum(1), mask.sum(1), strict=True)]
    return out


def mean_loss(losses: Sequence[tuple[float, int]]) -> float:
    return sum(s for s, _ in losses) / max(1, sum(n for _, n in losses))


def ranking_pairs(rows: Sequence[dict[str, Any]], tokenizer: Any, max_length: int, negatives: int,
                  seed: int) -> tuple[list[dict[str, list[int]]], list[tuple[int, list[int]]]]:
    """Items scoring each row's prompt with its true reply and `negatives` other rows' replies, and per row
    (index of the true item, indexes of the wrong ones). Negatives come from a fixed seed, so base and
    adapter are ranked on the same candidates."""
    rng = random.Random(seed)
    items: list[dict[str, list[int]]] = []
    groups: list[tuple[int, list[int]]] = []
    answers = [r["answer"] for r in rows]
    for i, row in enumerate(rows):
        others = [j for j in range(len(rows)) if answers[j].strip().casefold() != answers[i].strip().casefold()]
        encoded = []
        for j in [i, *rng.sample(others, min(negatives, len(others)))]:
            messages = [*row["messages"][:-1], {"role": "assistant", "content": answers[j]}]
            encoded.append(encode(messages, tokenizer, max_length))
        if encoded[0] is None or not any(e is not None for e in encoded[1:]):
            continue
        first = len(items)
        kept = [e for e in encoded if e is not None]
        items += kept
        groups.append((first, list(range(first + 1, first + len(kept)))))
    return items, groups


def ranking_accuracy(losses: Sequence[tuple[float, int]], groups: Sequence[tuple[int, list[int]]]) -> float:
    """Share of rows whose true reply has a lower per-token loss than every wrong candidate."""
    if not groups:
        return 0.0

    def per_token(k: int) -> float:
        return losses[k][0] / max(1, losses[k][1])

    return sum(per_token(true) < min(per_token(k) for k in wrong) for true, wrong in groups) / len(groups)


def ranking_margin(losses: Sequence[tuple[float, int]], groups: Sequence[tuple[int, list[int]]]) -> float:
    """Mean per-token loss of the wrong candidates minus that of the true reply, averaged over rows (nats).

    Accuracy on a small validation set moves in steps of 1/rows and sits near chance for a small base,
    so an adapter trained on shuffled pairs can "gain" a row by luck. The margin is continuous: learning
    replies in general lowers true and wrong losses alike, learning the wrong pairing lowers a wrong one.
    """
    if not groups:
        return 0.0

    def per_token(k: int) -> float:
        return losses[k][0] / max(1, losses[k][1])

    return sum(sum(per_token(k) for k in wrong) / len(wrong) - per_token(true) for true, wrong in groups) / len(groups)


@torch.no_grad()
def generate(model: Any, tokenizer: Any, prompts: Sequence[list[dict[str, str]]], max_new_tokens: int,
             batch_size: int, desc: str = "generate") -> list[str]:
    """Greedy replies, batched with left padding; the same decoding for base and adapter."""
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    replies: list[str] = []
    try:
        for start in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch", disable=None, leave=False):
            texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
                     for p in prompts[start:start + batch_size]]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            replies += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
    return [r.strip() for r in replies]


def encoded_prompts(encoded: EncodedSet) -> list[list[dict[str, str]]]:
    return [row["messages"][:-1] for row in encoded.rows]
