"""Answer similarity to the reference: ROUGE-L F1 (rouge-score) and embedding cosine (embedded MiniLM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def rouge_l(references: Sequence[str], answers: Sequence[str]) -> list[float]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [scorer.score(ref, ans)["rougeL"].fmeasure for ref, ans in zip(references, answers, strict=True)]


class EmbeddingSimilarity:
    """Cosine between sentence embeddings; loads the model once and reuses it for base and adapter."""

    def __init__(self, model_path: str, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        self.model: Any = SentenceTransformer(model_path, device=device)

    def cosine(self, references: Sequence[str], answers: Sequence[str]) -> list[float]:
        if not references:
            return []
        ref = self.model.encode(list(references), normalize_embeddings=True, convert_to_tensor=True)
        ans = self.model.encode(list(answers), normalize_embeddings=True, convert_to_tensor=True)
        return [float(x) for x in (ref * ans).sum(dim=-1)]
