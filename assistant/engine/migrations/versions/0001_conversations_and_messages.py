"""Baseline: conversations and messages, exactly as the pre-Alembic create_all made them.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("handoff_reason", sa.String(64), nullable=True),
        sa.Column("handoff_at", sa.DateTime(timezone=True), nullable=True),
    )
    for column in ("site_id", "created_at", "updated_at", "status"):
        op.create_index(f"ix_conversations_{column}", "conversations", [column])

    op.create_table(
        "messages",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("intent", sa.String(128), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("out_of_scope", sa.Boolean, nullable=False),
        sa.Column("sentiment", sa.String(16), nullable=True),
        sa.Column("sentiment_score", sa.Float, nullable=True),
        sa.Column("route", sa.String(16), nullable=True),
        sa.Column("template_id", sa.String(128), nullable=True),
        sa.Column("abstained", sa.Boolean, nullable=False),
        sa.Column("handoff_reason", sa.String(64), nullable=True),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("timings", sa.JSON, nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
    )
    for column in ("conversation_id", "created_at", "intent", "sentiment"):
        op.create_index(f"ix_messages_{column}", "messages", [column])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("conversations")
