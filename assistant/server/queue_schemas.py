"""Request and response bodies of the agent queue API (routes/queue.py): queue items, notes, webhook deliveries.

Text and names are checked by the engine (empty or over-long: 400 invalid_message, nothing stored), not by
field limits here, so an agent's tool gets one error shape whatever is wrong with what it sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str = Field(description="Who acts: the agent's name (at most 100 characters).", examples=["maria"])


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author: str = Field(description="The agent who writes it (at most 100 characters).", examples=["maria"])
    text: str = Field(description="The note (at most 4000 characters); never shown to the customer.",
                      examples=["Customer is a reseller; check the B2B terms."])


class NoteOut(BaseModel):
    id: int
    conversation_id: str
    author: str
    text: str
    created_at: datetime


class QueueItemOut(BaseModel):
    conversation_id: str
    state: Literal["waiting", "claimed", "closed"]
    handoff_reason: str | None = None
    handoff_at: datetime | None = None
    waiting_s: float = Field(description="Seconds from the handoff to the claim (or to now while waiting).")
    agent: str | None = Field(None, description="Who claimed it.")
    claimed_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: Literal["close", "hand_back"] | None = Field(None, description="How it ended (closed items).")
    last_customer_message: str = ""
    sentiment: str | None = Field(None, description="Of the customer's last message.")


class QueueOut(BaseModel):
    view: Literal["waiting", "claimed", "mine", "closed"]
    items: list[QueueItemOut]


class DeliveryOut(BaseModel):
    id: str
    event: str
    conversation_id: str | None = None
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    http_status: int | None = None
    last_error: str = ""
    created_at: datetime
    finished_at: datetime | None = None
