"""Operator console tables: reviews of replies, intent assignments of queued messages, surge alerts.

Created only where missing (if_not_exists): older databases got them from create_all at start-up.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_feedback",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(64), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("rating", sa.String(8), nullable=True),
        sa.Column("correction", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_message_feedback_conversation_id", "message_feedback", ["conversation_id"], if_not_exists=True)
    op.create_index("ix_message_feedback_updated_at", "message_feedback", ["updated_at"], if_not_exists=True)

    op.create_table(
        "intent_assignments",
        sa.Column("message_id", sa.String(64), sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("intent", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_intent_assignments_intent", "intent_assignments", ["intent"], if_not_exists=True)

    op.create_table(
        "console_alerts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recent_total", sa.Integer, nullable=False),
        sa.Column("recent_negative", sa.Integer, nullable=False),
        sa.Column("recent_share", sa.Float, nullable=False),
        sa.Column("baseline_total", sa.Integer, nullable=False),
        sa.Column("baseline_share", sa.Float, nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("webhook_status", sa.String(16), nullable=False),
        sa.Column("webhook_detail", sa.Text, nullable=False),
        sa.Column("acknowledged", sa.Boolean, nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_console_alerts_site_id", "console_alerts", ["site_id"], if_not_exists=True)
    op.create_index("ix_console_alerts_raised_at", "console_alerts", ["raised_at"], if_not_exists=True)


def downgrade() -> None:
    op.drop_table("console_alerts")
    op.drop_table("intent_assignments")
    op.drop_table("message_feedback")
