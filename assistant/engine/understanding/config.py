"""Understanding and answer-policy settings, nested into the app settings as `understanding`.

Env: ASSISTANT_UNDERSTANDING__<FIELD>.
"""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

DEFAULT_ABSTAIN_MESSAGE = (
    "I'm sorry, I couldn't find a reliable answer to that in our help centre. "
    "You can rephrase the question, browse the help centre, or ask me to connect you with a person."
)
DEFAULT_HANDOFF_MESSAGE = (
    "I'm passing this conversation to a member of our support team. "
    "They will reply here as soon as they can, within our opening hours."
)


class UnderstandingConfig(BaseModel):
    intent_model_dir: Path | None = Field(
        None, description="Trained intent model folder. Empty = data_dir/intent-model, trained from the samples."
    )
    intent_data: Path | None = Field(
        None, description="Intent examples CSV used when no model exists yet. Empty = bundled samples."
    )
    sentiment_model_dir: Path | None = Field(
        None,
        description="Sentiment head trained with `assistant train sentiment`. Empty = data_dir/sentiment-model "
        "when present, else the shipped default (lexicon + embedding prototypes, no training data).",
    )
    templates_path: Path | None = Field(None, description="Answer templates YAML. Empty = bundled samples.")
    live_runtime: Literal["auto", "torch", "onnx"] = Field(
        "auto",
        description="Runtime for classifying one live message: onnx (ONNX Runtime, float32, same results, ~3x "
        "faster on CPU), torch, or auto (onnx when onnxruntime is installed, else torch).",
    )
    top_k: int = Field(5, ge=1, le=50, description="Intents (with probabilities) reported per message.")
    oos_label: str = Field("oos", description="Training label that means out of scope.")
    finetune_epochs: int = Field(
        3, ge=0, le=20, description="Epochs of encoder fine-tuning (intents and trained sentiment); 0 = frozen."
    )
    finetune_layers: int = Field(
        2, ge=0, le=6, description="Top encoder layers fine-tuned; lower layers are frozen and cached. "
        "0 = frozen encoder, only the head is trained (fast, less accurate)."
    )
    calibration_fraction: float = Field(
        0.1, gt=0.0, lt=0.5, description="Share of the training data held out to calibrate the OOS threshold."
    )
    refit_on_all_data: bool = Field(
        True, description="After choosing the mix weight and OOS threshold on the held-out slice, train again on "
        "all examples (about 2x training time; the threshold is kept as chosen)."
    )
    oos_score: Literal["max_logit", "probability"] = Field(
        "max_logit", description="What the out-of-scope threshold applies to: the intent head's best in-scope "
        "logit (rejects far more out-of-scope messages at the same in-scope accuracy) or its probability."
    )
    # 0.003 was chosen on CLINC150's validation split (0.01 gave up ~1.1 points of val in-scope accuracy
    # where the held-out train slice promised 1): the held-out slice is easier than new messages.
    oos_max_in_scope_loss: float = Field(
        0.003, ge=0.0, le=0.2, description="Held-out in-scope accuracy the OOS threshold may give up to reject "
        "out-of-scope messages (training data with `oos` examples only)."
    )
    default_template_threshold: float = Field(
        0.8, ge=0.0, le=1.0, description="Intent confidence needed for a template when the YAML sets none."
    )
    # A confident intent can still be the wrong one ("trade in my old jacket for store credit" read as
    # payment_methods at 0.84); the knowledge base is a second, independent opinion of what was asked.
    corroborate_templates: bool = Field(
        True, description="A template answers only when retrieval also ranks one of its source pages in the top "
        "retrieval.top_k; otherwise the turn goes on to retrieval, generation or abstention. Skipped for templates "
        "without sources and when the knowledge base holds none of their pages. Costs one retrieval per template reply."
    )
    rephrase_templates: bool = Field(
        False, description="Let the chat model reword a template reply to fit the customer's message. The "
        "rewording is shown only when it keeps every slot value, number, time, price, e-mail address and link of "
        "the template and adds none; otherwise the template is sent as written. Costs one generation per template "
        "reply."
    )
    # On bench/data/store_eval_queries.jsonl (60 answerable, 20 unanswerable) 0.10 answered 83% of the
    # answerable and abstained on 90% of the unanswerable (0.15: 62% / 90%); `eval answers` should own this.
    min_retrieval_score: float = Field(
        0.10, ge=0.0, le=1.0, description="Below this calibrated top-hit score the assistant abstains."
    )
    # The score ranks pages against each other but says little about whether one fits: a short question
    # that names a page's subject in other words ("replace a zipper" for the repairs page) scores low.
    # A confident intent is a second opinion, and the intent's own training messages show which pages
    # its questions land on.
    intent_corroborates_retrieval: bool = Field(
        True, description="Below min_retrieval_score, still answer when the intent model is as confident as "
        "the intent's template threshold and the top page is where at least intent_page_share of that intent's "
        "own training messages land (their top search hit). Costs one search per stored example (up to 32) "
        "the first time an intent is checked after a knowledge-base change."
    )
    intent_page_share: float = Field(
        0.1, gt=0.0, le=1.0, description="Share of an intent's training messages whose top hit must be the page "
        "(intent_corroborates_retrieval)."
    )
    # Pages that share words score alike ("nothing has moved in the tracking" finds the tracking page and the
    # missing-parcel page within a few hundredths); the intent model learned what such customers meant.
    # Measured with `assistant eval answers` (docs/bench/answers.md, "A confident intent breaks near-ties").
    intent_breaks_ties: bool = Field(
        True, description="When the intent model is as confident as the intent's template threshold, lead with "
        "the intent's own page (the top search hit of at least intent_own_page_share of its training messages) if "
        "retrieval found it scoring at least intent_tie_ratio of the top hit's score."
    )
    intent_tie_ratio: float = Field(
        0.8, gt=0.0, le=1.0, description="How close to the top score the intent's page must be to count as a "
        "near-tie it may break (intent_breaks_ties)."
    )
    intent_own_page_share: float = Field(
        0.5, gt=0.0, le=1.0, description="Share of an intent's training messages whose top hit must be one page "
        "for that page to be the intent's own (intent_breaks_ties)."
    )
    abstain_message: str = Field(DEFAULT_ABSTAIN_MESSAGE, description="Fixed reply when the assistant abstains.")
    handoff_message: str = Field(DEFAULT_HANDOFF_MESSAGE, description="Reply when the conversation is handed off.")
    handoff_intents: list[str] = Field(
        default_factory=lambda: ["human_agent"], description="Intents that mean 'let me talk to a person'."
    )
    handoff_intent_threshold: float = Field(
        0.6, ge=0.0, le=1.0, description="Confidence a handoff intent needs to trigger a handoff."
    )
    handoff_negative_streak: int = Field(2, ge=1, description="Consecutive negative messages that trigger handoff.")
    handoff_abstain_streak: int = Field(2, ge=1, description="Consecutive abstentions that trigger handoff.")
    handoff_webhook_url: str = Field("", description="POSTed a conversation summary on handoff.")
    handoff_webhook_timeout_s: float = Field(3.0, gt=0.0, le=60.0, description="Webhook request timeout.")
