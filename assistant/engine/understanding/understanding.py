"""Understanding: one object that classifies a customer message (intents + out of scope + sentiment) and owns the templates.

Built once at start-up by `Understanding.from_settings`: loads the intent model from its folder
(training it from the bundled sample intents the first time), the sentiment model (trained
head if one was saved, else the shipped default) and the answer templates. Per message the
MiniLM's frozen lower layers run once and are shared by the intent and sentiment heads; on a
CPU with onnxruntime that whole per-message computation runs as one ONNX graph (live_graph.py).
"""

from __future__ import annotations

import importlib.util
import logging
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from assistant.engine.events import Classification, IntentScore, Sentiment
from assistant.engine.models import resolve_embedding_model
from assistant.engine.understanding.classifier import TrainOptions
from assistant.engine.understanding.config import UnderstandingConfig
from assistant.engine.understanding.dataset import load_labelled_csv
from assistant.engine.understanding.encoder import Encoder, mean_pool
from assistant.engine.understanding.intent_model import (
    CALIBRATION_FRACTION,
    OOS_LABEL,
    OOS_MAX_IN_SCOPE_LOSS,
    OOS_SCORE,
    REFIT_ON_ALL_DATA,
    IntentModel,
)
from assistant.engine.understanding.language import detect_language
from assistant.engine.understanding.language import load as load_language_detector
from assistant.engine.understanding.policy import INTENT_BREAKS_TIES
from assistant.engine.understanding.sentiment import DefaultSentiment, TrainedSentiment
from assistant.engine.understanding.templates import TemplateBook

if TYPE_CHECKING:
    from assistant.engine.settings import Settings
    from assistant.engine.understanding.live_graph import LiveGraph

log = logging.getLogger(__name__)

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_INTENTS = SAMPLES_DIR / "intents.csv"
SAMPLE_TEMPLATES = SAMPLES_DIR / "templates.yaml"

INTENTS_REPORTED = 5  # intents (with probabilities) reported per message, best first
DEFAULT_TEMPLATE_THRESHOLD = 0.8  # intent confidence a template needs when its YAML sets none
# one live message's intent + sentiment as one ONNX Runtime graph (same results, ~3x faster on a CPU: 2.27 ms p50
# for both, docs/benchmarks.md "Understanding"), or torch; auto = onnx when onnxruntime is installed
LIVE_RUNTIME = "auto"


def train_options(progress: bool = True, epochs: int | None = None) -> TrainOptions:
    """The training recipe (classifier.TrainOptions' defaults), with `epochs` overridden when given."""
    return TrainOptions(progress=progress) if epochs is None else TrainOptions(epochs=epochs, progress=progress)


def train_intent_model(encoder: Encoder, data_path: Path, progress: bool = True,
                       epochs: int | None = None) -> IntentModel:
    data = load_labelled_csv(data_path, min_per_label=2)
    return IntentModel.train(data, encoder, train_options(progress, epochs), oos_label=OOS_LABEL,
                             calibration_fraction=CALIBRATION_FRACTION, refit=REFIT_ON_ALL_DATA,
                             oos_score=OOS_SCORE, max_in_scope_loss=OOS_MAX_IN_SCOPE_LOSS)


def _trained_once(encoder: Encoder, data_path: Path, cache_dir: Path, progress: bool) -> IntentModel:
    """The intent model of `data_path`, trained once per data file, recipe and encoder, then kept in the model cache.

    A fresh data directory then starts without training (`make install` warms the cache with the sample intents).
    """
    import hashlib
    import os
    import shutil

    recipe = f"{hashlib.sha256(data_path.read_bytes()).hexdigest()}|{train_options(False)}|{encoder.model_dir}|{OOS_SCORE}"
    cached = cache_dir / "intent-models" / hashlib.sha256(recipe.encode()).hexdigest()[:16]
    if (cached / "meta.json").exists():
        return IntentModel.load(cached, encoder)
    log.info("training the intent model from %s (once; kept in %s)", data_path, cached)
    intents = train_intent_model(encoder, data_path, progress)
    tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    intents.save(tmp)
    shutil.rmtree(cached, ignore_errors=True)
    tmp.rename(cached)  # atomic: a half-written model is never seen as done
    return intents


def sentiment_model_dir(settings: Settings) -> Path:
    """Where `assistant train sentiment` saves the sentiment head and start-up looks for one (else the default)."""
    return settings.data_dir / "sentiment-model"


class Understanding:
    def __init__(self, config: UnderstandingConfig, encoder: Encoder, intents: IntentModel,
                 sentiment: DefaultSentiment | TrainedSentiment, templates: TemplateBook,
                 cache_dir: Path | None = None) -> None:
        self.config = config
        self.encoder = encoder
        self.sentiment = sentiment
        self.templates = templates
        self.cache_dir = cache_dir
        self.intents = intents
        # sites' own intent models (own_intents) -> their live graphs; an unused model's entry goes with it
        self._site_graphs: weakref.WeakKeyDictionary[IntentModel, LiveGraph | None] = weakref.WeakKeyDictionary()

    @property
    def intents(self) -> IntentModel:
        return self._current[0]

    @intents.setter
    def intents(self, model: IntentModel) -> None:
        # the model and its live graph change together, in one assignment: a message being
        # classified meanwhile uses the old pair whole
        self._current: tuple[IntentModel, LiveGraph | None] = (model, self._live_graph(model))

    def _live_graph(self, model: IntentModel) -> LiveGraph | None:
        runtime = LIVE_RUNTIME
        if runtime == "torch" or self.cache_dir is None or model.classifier.neural is None:
            return None
        if runtime == "auto" and importlib.util.find_spec("onnxruntime") is None:
            return None
        from assistant.engine.understanding.live_graph import LiveGraph

        trained = self.sentiment.model.neural if isinstance(self.sentiment, TrainedSentiment) else None
        try:
            return LiveGraph(self.encoder, model.classifier.neural, trained, self.cache_dir / "onnx")
        except Exception as exc:
            if runtime == "onnx":
                raise
            log.warning("live classification stays on torch: %s", exc)
            return None

    @classmethod
    def from_settings(cls, settings: Settings, progress: bool = True) -> Understanding:
        config = settings.understanding
        encoder = Encoder(resolve_embedding_model(settings.retrieval.embedding_model))
        intent_dir = config.intent_model_dir or settings.data_dir / "intent-model"
        if (intent_dir / "meta.json").exists():
            intents = IntentModel.load(intent_dir, encoder)
            if INTENT_BREAKS_TIES and not intents.examples:
                log.warning("%s keeps no training examples (trained before examples.json): no intent can lead "
                            "with its own page in a near-tie until it is retrained", intent_dir)
        else:
            data_path = config.intent_data or SAMPLE_INTENTS
            intents = _trained_once(encoder, data_path, settings.cache_dir, progress)
            intents.save(intent_dir)
        load_language_detector()
        sentiment_dir = sentiment_model_dir(settings)
        if (sentiment_dir / "meta.json").exists():
            sentiment: DefaultSentiment | TrainedSentiment = TrainedSentiment.load(sentiment_dir, encoder)
        else:
            sentiment = DefaultSentiment(encoder)
        # the sample templates speak for the sample shop: with the operator's own knowledge base they stay off
        book = config.templates_path or (SAMPLE_TEMPLATES if settings.kb_path is None else None)
        templates = (TemplateBook.load(book, default_threshold=DEFAULT_TEMPLATE_THRESHOLD,
                                       defaults={"company": settings.company})
                     if book else TemplateBook.empty(DEFAULT_TEMPLATE_THRESHOLD))
        return cls(config, encoder, intents, sentiment, templates, settings.cache_dir)

    def _states(self, text: str, depths: set[int]) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
        """Base-encoder token states after each requested number of layers, computed in one pass."""
        enc = self.encoder.tokenize([text])
        mask = enc["attention_mask"]
        hidden = self.encoder.bert.embeddings(input_ids=enc["input_ids"], token_type_ids=enc.get("token_type_ids"))
        states, done = {}, 0
        for depth in sorted(depths):
            hidden = self.encoder.run_layers(hidden, mask, done, depth)
            states[depth], done = hidden, depth
        return states, mask

    def own_intents(self, data_path: Path, progress: bool = False) -> IntentModel:
        """A site's own intent model of `data_path`: trained once per file content into the shared model cache
        (_trained_once), then loaded from there; classify it with `classify_with`."""
        if self.cache_dir is None:
            model = train_intent_model(self.encoder, data_path, progress)
        else:
            model = _trained_once(self.encoder, data_path, self.cache_dir, progress)
        self._site_graphs[model] = self._live_graph(model)
        return model

    def classify(self, text: str) -> Classification:
        return self._classify(text, *self._current)

    def classify_with(self, text: str, intents: IntentModel) -> Classification:
        """Like `classify`, with a site's own intent model (own_intents) instead of the global one; sentiment and
        language are the shared models'."""
        return self._classify(text, intents, self._site_graphs.get(intents))

    def _classify(self, text: str, intents: IntentModel, live: LiveGraph | None) -> Classification:
        trained = self.sentiment.model.neural if isinstance(self.sentiment, TrainedSentiment) else None
        if live is not None and live.sentiment_part is trained:  # a sentiment swapped since falls back to torch
            logits, sentiment_out = live.run(text)
            if isinstance(self.sentiment, TrainedSentiment):
                mood = self.sentiment.analyze_logits(text, sentiment_out)
            else:
                mood = self.sentiment.analyze(text, sentiment_out)
        else:
            logits, mood = self._classify_torch(text, intents)
        probs = intents.classifier.proba_from_logits(text, logits)
        prediction = intents.decide(probs, logits, INTENTS_REPORTED)
        return Classification(
            intent=prediction.intent,
            confidence=round(prediction.confidence, 4),
            intents=[IntentScore(intent=name, probability=round(p, 4)) for name, p in prediction.top],
            out_of_scope=prediction.out_of_scope,
            sentiment=mood,
            language=detect_language(text),
        )

    def _classify_torch(self, text: str, intents: IntentModel) -> tuple[np.ndarray, Sentiment]:
        """(intent neural logits, sentiment) through the torch layers."""
        intent_depth = intents.classifier.n_frozen
        if isinstance(self.sentiment, TrainedSentiment):
            sentiment_depth = self.sentiment.needs_layers
        else:
            sentiment_depth = self.encoder.n_layers
        with torch.inference_mode():
            states, mask = self._states(text, {intent_depth, sentiment_depth})
            logits = intents.classifier.logits_from_lower(states[intent_depth], mask)
            if isinstance(self.sentiment, TrainedSentiment):
                mood = self.sentiment.analyze_lower(text, states[sentiment_depth], mask)
            else:
                embedding = mean_pool(states[sentiment_depth], mask)[0].numpy()
                mood = self.sentiment.analyze(text, embedding)
        return logits, mood

    def sentiment_of(self, text: str) -> Sentiment:
        return self.classify(text).sentiment

    def predict_sentiments(self, texts: list[str]) -> list[str]:
        if isinstance(self.sentiment, TrainedSentiment):
            return self.sentiment.predict(texts)
        return self.sentiment.predict(self.encoder, texts)

    def intent_probabilities(self, texts: list[str]) -> np.ndarray:
        return self.intents.predict_proba(texts)
