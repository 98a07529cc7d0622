"""One customer message through intent and sentiment as a single ONNX Runtime graph (float32).

For one short message the PyTorch path is dominated by per-layer dispatch and small-matrix
GEMM overhead (about 17 ms for the 8 transformer layers it runs on 2 AVX2 cores); ONNX Runtime
runs the same float32 graph in about a third of that. The graph holds the base MiniLM up to the
depths needed, the intent model's fine-tuned top layers and head, and the sentiment input (the
base embedding for the default sentiment, or the trained sentiment's own top layers and head),
so one `run` gives everything `Understanding.classify` needs. Float32, not int8: the live path
must give the same decisions as `assistant eval intents`, which runs the PyTorch batch path.

Exported once per (base model, intent model, sentiment model) and cached under
`cache_dir/live-<digest>/`; a new intent model (console retraining) gets its own graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from assistant.engine.understanding.classifier import NeuralPart
from assistant.engine.understanding.encoder import Encoder, mean_pool
from retrieval.onnx_encoder import export_graph, folder_digest, open_session


class _Graph(torch.nn.Module):
    """ids, mask, token types -> (intent logits, sentiment output)."""

    def __init__(self, encoder: Encoder, intent: NeuralPart, sentiment: NeuralPart | None) -> None:
        super().__init__()
        self.encoder, self.intent, self.sentiment = encoder, intent, sentiment
        self.sentiment_depth = sentiment.n_frozen if sentiment is not None else encoder.n_layers

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder.bert.embeddings(input_ids=ids, token_type_ids=types)
        states, done = {}, 0
        for depth in sorted({self.intent.n_frozen, self.sentiment_depth}):
            hidden = self.encoder.run_layers(hidden, mask, done, depth)
            states[depth], done = hidden, depth
        intent_logits = self.intent(states[self.intent.n_frozen], mask)
        if self.sentiment is None:
            return intent_logits, mean_pool(states[self.sentiment_depth], mask)
        return intent_logits, self.sentiment(states[self.sentiment_depth], mask)


def _digest(encoder: Encoder, parts: list[NeuralPart]) -> str:
    """The base model by its folder (cheap: file stats), the trained parts by their weights."""
    h = folder_digest(encoder.model_dir, "live", encoder.max_length)
    for module in parts:
        for name, tensor in module.state_dict().items():
            h.update(name.encode())
            h.update(tensor.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


class LiveGraph:
    """The exported graph and its session; `run(text)` -> (intent logits, sentiment output), both float64."""

    def __init__(self, encoder: Encoder, intent: NeuralPart, sentiment: NeuralPart | None, cache_dir: Path) -> None:
        self.tokenizer = encoder.tokenizer
        self.max_length = encoder.max_length
        self.sentiment_part = sentiment  # which sentiment model the second output belongs to
        parts = [intent] + ([sentiment] if sentiment is not None else [])
        folder = cache_dir / f"live-{_digest(encoder, parts)}"
        if not (folder / "model.onnx").exists():
            sample = encoder.tokenizer(["hello there", "where is my card, it has not arrived"], padding=True,
                                       return_tensors="pt")
            types = sample.get("token_type_ids", torch.zeros_like(sample["input_ids"]))
            axes = {name: {0: "b", 1: "t"} for name in ("ids", "mask", "types")}
            export_graph(_Graph(encoder, intent, sentiment).eval(), (sample["input_ids"], sample["attention_mask"], types),
                         folder, ["ids", "mask", "types"], ["intent", "sentiment"],
                         {**axes, "intent": {0: "b"}, "sentiment": {0: "b"}})
        self.session = open_session(folder / "model.onnx")

    def run(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        enc = self.tokenizer([text], truncation=True, max_length=self.max_length, return_tensors="np")
        types = enc.get("token_type_ids")
        feed = {
            "ids": enc["input_ids"].astype(np.int64),
            "mask": enc["attention_mask"].astype(np.int64),
            "types": (types if types is not None else np.zeros_like(enc["input_ids"])).astype(np.int64),
        }
        intent, sentiment = self.session.run(None, feed)
        return intent[0].astype(np.float64), sentiment[0].astype(np.float64)

