"""Understanding and answer-policy settings, nested into the app settings as `understanding`.

Env: ASSISTANT_UNDERSTANDING__<FIELD>.
"""

from pathlib import Path

from pydantic import BaseModel, Field


class UnderstandingConfig(BaseModel):
    intent_model_dir: Path | None = Field(
        None, description="Trained intent model folder. Empty = data_dir/intent-model, trained from the samples."
    )
    templates_path: Path | None = Field(None, description="Answer templates YAML. Empty = bundled samples.")
    min_retrieval_score: float = Field(
        0.35, ge=0.0, le=1.0, description="Below this calibrated top-hit score the assistant abstains."
    )
    handoff_negative_streak: int = Field(2, ge=1, description="Consecutive negative messages that trigger handoff.")
    handoff_abstain_streak: int = Field(2, ge=1, description="Consecutive abstentions that trigger handoff.")
    handoff_webhook_url: str = Field("", description="POSTed a conversation summary on handoff.")
