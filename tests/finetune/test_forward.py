"""The lean forward pass gives the plain causal-LM loss and gradients (shared prefix, reply-only logits)."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from finetune.forward import shared_prefix_length
from finetune.tokenization import IGNORE
from finetune.trainer import answer_loss


def _batch() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    system = torch.randint(5, 90, (12,))
    rows, labels = [], []
    for length, answer in ((9, 4), (6, 5), (8, 3)):
        own = torch.randint(5, 90, (length,))
        ids = torch.cat([system, own])
        rows.append(ids)
        labels.append(torch.cat([torch.full((len(ids) - answer,), IGNORE), ids[-answer:]]))
    width = max(len(r) for r in rows)
    pad = lambda t, v: torch.cat([t, torch.full((width - len(t),), v)])  # noqa: E731 - right padding
    return {"input_ids": torch.stack([pad(r, 0) for r in rows]),
            "attention_mask": torch.stack([pad(torch.ones(len(r), dtype=torch.long), 0) for r in rows]),
            "labels": torch.stack([pad(lab, IGNORE) for lab in labels])}


def _plain_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), batch["labels"][:, 1:],
                                             ignore_index=IGNORE)


@pytest.mark.parametrize("share_prefix", [False, True])
def test_same_loss_and_gradients_as_the_plain_forward(share_prefix: bool) -> None:
    torch.manual_seed(1)
    base = LlamaForCausalLM(LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2))
    model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    batch = _batch()
    assert shared_prefix_length(batch["input_ids"], batch["attention_mask"], batch["labels"]) == 12

    expected = _plain_loss(model, batch)
    expected.backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    loss, _ = answer_loss(model, batch, share_prefix=share_prefix)
    loss.backward()
    assert torch.allclose(loss, expected, atol=1e-6)
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert torch.allclose(param.grad, want[name], atol=1e-6), name


def test_no_shared_prefix_when_rows_differ_early_or_labels_start_inside_it() -> None:
    batch = _batch()
    ids = batch["input_ids"].clone()
    ids[1, 3] = 1
    assert shared_prefix_length(ids, batch["attention_mask"], batch["labels"]) == 0  # 3 < MIN_SHARED_PREFIX
    labels = batch["labels"].clone()
    labels[0, 11] = ids[0, 11]  # a reply token inside the common prefix stops it before that position
    assert shared_prefix_length(batch["input_ids"], batch["attention_mask"], labels) == 10
