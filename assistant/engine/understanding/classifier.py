"""Text classifier used for intents and trained sentiment: fine-tuned MiniLM top layers + head, ensembled with TF-IDF.

Training: the frozen lower layers run once (cached); the top `finetune_layers` layers and a
cosine head are fine-tuned with cross-entropy; a TF-IDF (word + char n-gram) logistic
regression is trained beside it and the two probability vectors are mixed with a weight
chosen on a held-out slice of the training data. The saved folder holds only the top
layers, head, TF-IDF model and metadata; the frozen base is the embedded MiniLM.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline
from tqdm.auto import tqdm

from assistant.engine.understanding.encoder import Encoder, LowerBatch, additive_mask, mean_pool, pad_batches
from assistant.engine.understanding.tfidf_scorer import TfidfScorer

FORMAT_VERSION = 1
HEAD_SCALE = 20.0  # cosine logits need a temperature; 20 lets softmax reach confident values


# How intent and sentiment heads are trained (not settings; `assistant train ... --epochs` overrides the epochs).
# BANKING77 test accuracy (docs/benchmarks.md, "Understanding"): 2 layers x 3 epochs 94.42, x 2 epochs 93.77,
# 4 layers x 3 epochs 94.16 at ~30% more training time.
FINETUNE_EPOCHS = 3
FINETUNE_LAYERS = 2  # top encoder layers fine-tuned; the lower ones are frozen and cached


@dataclass
class TrainOptions:
    # read when an instance is built, so that tests and bench variants can patch the constants
    epochs: int = field(default_factory=lambda: FINETUNE_EPOCHS)
    finetune_layers: int = field(default_factory=lambda: FINETUNE_LAYERS)
    lr_encoder: float = 1e-4
    lr_head: float = 5e-3
    batch_size: int = 32
    seed: int = 0
    tfidf_c: float = 10.0
    progress: bool = True
    weights: list[float] = field(default_factory=lambda: [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])


class NeuralPart(torch.nn.Module):
    """Fine-tuned copies of the encoder's top layers plus a cosine-similarity head."""

    def __init__(self, encoder: Encoder, n_frozen: int, n_labels: int) -> None:
        super().__init__()
        self.n_frozen = n_frozen
        self.layers = torch.nn.ModuleList(copy.deepcopy(encoder.bert.encoder.layer[n_frozen:]))
        self.head = torch.nn.Linear(encoder.dim, n_labels)

    def pooled(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        extended = additive_mask(mask, hidden.dtype)
        for layer in self.layers:
            hidden = layer(hidden, extended)
            if isinstance(hidden, tuple):
                hidden = hidden[0]
        return mean_pool(hidden, mask)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        vec = torch.nn.functional.normalize(self.pooled(hidden, mask), dim=-1)
        return self.head(vec * HEAD_SCALE)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _tfidf(c: float):
    features = FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, lowercase=True)),
    ])
    return make_pipeline(features, LogisticRegression(C=c, max_iter=300))


class TextClassifier:
    def __init__(self, encoder: Encoder, labels: list[str], neural: NeuralPart | None, tfidf, weight: float) -> None:
        self.encoder = encoder
        self.labels = labels
        self.neural = neural
        self.tfidf = tfidf
        self.weight = weight
        self.meta: dict = {}
        self._scorer: TfidfScorer | None = None

    @property
    def n_frozen(self) -> int:
        return self.neural.n_frozen if self.neural is not None else self.encoder.n_layers

    # ---- training -------------------------------------------------------------------------
    @classmethod
    def fit(cls, encoder: Encoder, texts: list[str], labels: list[str], options: TrainOptions,
            calib_texts: list[str] | None = None, calib_labels: list[str] | None = None,
            states: list[torch.Tensor] | None = None,
            calib_states: list[torch.Tensor] | None = None) -> TextClassifier:
        """Train; `states`/`calib_states` are frozen-layer caches (Encoder.lower_rows) when the caller has them."""
        torch.manual_seed(options.seed)
        names = sorted(set(labels))
        index = {name: i for i, name in enumerate(names)}
        y = torch.tensor([index[label] for label in labels])
        n_frozen = encoder.n_layers - options.finetune_layers
        neural = NeuralPart(encoder, n_frozen, len(names))
        if states is None:
            states = encoder.lower_rows(texts, n_frozen)
        _init_head(neural, pad_batches(states, np.arange(len(texts)), 64), y)
        if options.epochs > 0:
            _train(neural, states, y, options)
        neural.eval()
        tfidf = _tfidf(options.tfidf_c).fit(texts, labels)
        model = cls(encoder, names, neural, tfidf, 1.0)
        if calib_texts:
            if calib_states is None:
                calib_states = encoder.lower_rows(calib_texts, n_frozen, desc="calibration states")
            probs_nn, probs_tf = model.neural_probs(calib_states), model._tfidf_probs(calib_texts)
            gold = np.array([index.get(label, -1) for label in calib_labels])
            scores = {w: float(np.mean((w * probs_nn + (1 - w) * probs_tf).argmax(1) == gold)) for w in options.weights}
            # ties go to the larger neural weight: it generalises better than the n-gram model
            model.weight = max(scores, key=lambda w: (round(scores[w], 6), w))
            model.meta["weight_scores"] = scores
        return model

    # ---- inference ------------------------------------------------------------------------
    def neural_logits(self, states: list[torch.Tensor]) -> np.ndarray:
        logits = np.zeros((len(states), len(self.labels)), dtype=np.float64)
        with torch.inference_mode():
            for batch in pad_batches(states, np.arange(len(states)), 64):
                logits[batch.rows] = self.neural(batch.hidden, batch.mask).numpy()
        return logits

    def neural_probs(self, states: list[torch.Tensor]) -> np.ndarray:
        return _softmax(self.neural_logits(states))

    def _tfidf_probs(self, texts: list[str]) -> np.ndarray:
        probs = self.tfidf.predict_proba(texts)
        order = [list(self.tfidf.classes_).index(label) for label in self.labels]
        return probs[:, order]

    def predict_proba(self, texts: list[str], states: list[torch.Tensor] | None = None) -> np.ndarray:
        return self.scores(texts, states)[0]

    def scores(self, texts: list[str], states: list[torch.Tensor] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(mixed probabilities, neural logits), each (n, n_labels): the logits feed out-of-scope detection."""
        if states is None:
            states = self.encoder.lower_rows(texts, self.n_frozen, 64, desc="classifying")
        logits = self.neural_logits(states)
        probs = _softmax(logits)
        if self.weight < 1.0:
            probs = self.weight * probs + (1 - self.weight) * self._tfidf_probs(texts)
        return probs, logits

    def logits_from_lower(self, hidden: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        """One message's neural logits, given the shared frozen-layer states (see Understanding.classify)."""
        with torch.inference_mode():
            return self.neural(hidden, mask)[0].numpy().astype(np.float64)

    def proba_from_lower(self, text: str, hidden: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        return self.proba_from_logits(text, self.logits_from_lower(hidden, mask))

    def proba_from_logits(self, text: str, logits: np.ndarray) -> np.ndarray:
        """One message, given its neural logits (from the torch layers or the live ONNX graph)."""
        nn_probs = _softmax(logits)
        if self.weight >= 1.0:
            return nn_probs
        if self._scorer is None:
            self._scorer = TfidfScorer(self.tfidf, self.labels)
        return self.weight * nn_probs + (1 - self.weight) * self._scorer.proba(text)

    def logits_one(self, text: str) -> np.ndarray:
        """The live path for one message (no sorting, batching or progress bar): its neural logits."""
        with torch.inference_mode():
            enc = self.encoder.tokenize([text])
            hidden = self.encoder.bert.embeddings(input_ids=enc["input_ids"], token_type_ids=enc.get("token_type_ids"))
            hidden = self.encoder.run_layers(hidden, enc["attention_mask"], 0, self.n_frozen)
        return self.logits_from_lower(hidden, enc["attention_mask"])

    def predict_proba_one(self, text: str) -> np.ndarray:
        return self.proba_from_logits(text, self.logits_one(text))

    # ---- persistence ----------------------------------------------------------------------
    def save(self, folder: Path, extra: dict | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.neural.state_dict(), folder / "neural.pt")
        joblib.dump(self.tfidf, folder / "tfidf.joblib")
        meta = {"format": FORMAT_VERSION, "labels": self.labels, "weight": self.weight,
                "n_frozen": self.neural.n_frozen, "encoder_layers": self.encoder.n_layers,
                **self.meta, **(extra or {})}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path, encoder: Encoder) -> TextClassifier:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != FORMAT_VERSION or meta.get("encoder_layers") != encoder.n_layers:
            raise ValueError(f"{folder}: model format or encoder does not match; retrain it")
        neural = NeuralPart(encoder, int(meta["n_frozen"]), len(meta["labels"]))
        neural.load_state_dict(torch.load(folder / "neural.pt", map_location="cpu", weights_only=True))
        neural.eval()
        model = cls(encoder, list(meta["labels"]), neural, joblib.load(folder / "tfidf.joblib"), float(meta["weight"]))
        model.meta = meta
        return model


def _init_head(neural: NeuralPart, batches: list[LowerBatch], y: torch.Tensor) -> None:
    """Start the head at the class centroids, so fine-tuning begins from a sensible classifier."""
    dim = neural.head.in_features
    sums = torch.zeros(neural.head.out_features, dim)
    with torch.no_grad():
        for batch in batches:
            vec = torch.nn.functional.normalize(neural.pooled(batch.hidden, batch.mask), dim=-1)
            sums.index_add_(0, y[torch.as_tensor(batch.rows)], vec)
        neural.head.weight.copy_(torch.nn.functional.normalize(sums, dim=-1))
        neural.head.bias.zero_()


def _train(neural: NeuralPart, states: list[torch.Tensor], y: torch.Tensor, options: TrainOptions) -> None:
    neural.train()
    rng = np.random.default_rng(options.seed)
    groups = [{"params": list(neural.head.parameters()), "lr": options.lr_head}]
    if len(neural.layers):  # finetune_layers=0 trains the head alone on the frozen encoder
        groups.append({"params": list(neural.layers.parameters()), "lr": options.lr_encoder})
    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    per_epoch = math.ceil(len(states) / options.batch_size)
    total = options.epochs * per_epoch
    warmup = max(1, int(0.06 * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))))
    bar = tqdm(total=total, desc="fine-tuning", unit="batch", disable=not options.progress)
    for epoch in range(options.epochs):
        running = 0.0
        batches = pad_batches(states, np.arange(len(states)), options.batch_size, rng)
        for step, batch in enumerate(batches, 1):
            loss = torch.nn.functional.cross_entropy(neural(batch.hidden, batch.mask), y[torch.as_tensor(batch.rows)])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(neural.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            running += loss.item()
            bar.update()
            if step % 20 == 0:
                bar.set_postfix(epoch=epoch + 1, loss=f"{running / step:.3f}")
        if not math.isfinite(running):
            raise RuntimeError("training diverged (non-finite loss)")
    bar.close()
