"""Understanding and answer-policy settings, nested into the app settings as `understanding`.

Env: ASSISTANT_UNDERSTANDING__<FIELD>.
"""

from pathlib import Path

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
        None, description="Trained intent model folder (`assistant train intents`). Empty = data_dir/intent-model, "
        "trained from the bundled sample intents on first start."
    )
    intent_data: Path | None = Field(
        None, description="Intent examples CSV (text, intent): what the first start trains on when there is no "
        "intent model yet, and what the console's retrain adds the operators' examples to. Empty = bundled samples."
    )
    templates_path: Path | None = Field(None, description="Answer templates YAML. Empty = the bundled sample "
                                        "templates with the sample knowledge base, none with your own (KB_PATH).")
    rephrase_templates: bool = Field(
        False, description="Let the chat model reword a template reply to fit the customer's message. The "
        "rewording is shown only when it keeps every slot value, number, time, price, e-mail address and link of "
        "the template and adds none; otherwise the template is sent as written. Costs one generation per template "
        "reply; worth it with a stronger model than the embedded one."
    )
    # Chosen across four knowledge bases, not one (bench/abstention_threshold.py, docs/benchmarks.md "Abstention
    # threshold across knowledge bases"): the store pages, the BANKING77 FAQ and two course FAQs, each with CLINC150's
    # out-of-scope train questions; the lowest value that stops 95% of them on every base.
    # `assistant eval answers --calibrate` finds the value for a site's own knowledge base.
    min_retrieval_score: float = Field(
        0.05, ge=0.0, le=1.0, description="Below this calibrated top-hit score the assistant abstains (or hands "
        "off after repeated abstentions). Higher: fewer wrong answers, more 'I don't know'. `assistant eval "
        "answers --calibrate` recommends a value for your knowledge base."
    )
    abstain_message: str = Field(DEFAULT_ABSTAIN_MESSAGE, description="Fixed reply when the assistant abstains.")
    handoff_message: str = Field(DEFAULT_HANDOFF_MESSAGE, description="Reply when the conversation is handed off.")
    handoff_webhook_url: str = Field("", description="POSTed a conversation summary on handoff; empty = none.")
    handoff_webhook_timeout_s: float = Field(3.0, gt=0.0, le=60.0, description="Handoff webhook request timeout.")
