"""Sites (tenants), their API keys, widget-session ownership of conversations, handoff acknowledgements.

These tables were first made ad hoc by create_all in assistant/engine/{sites,handoffs}.py, so an
existing database may have them already: they are created only where missing (if_not_exists).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("allowed_origins", sa.JSON, nullable=False),
        sa.Column("adapter", sa.String(128), nullable=True),
        sa.Column("intents_path", sa.String(500), nullable=True),
        sa.Column("templates_path", sa.String(500), nullable=True),
        sa.Column("key_rate", sa.String(100), nullable=True),
        sa.Column("session_rate", sa.String(100), nullable=True),
        sa.Column("daily_quota", sa.Integer, nullable=True),
        sa.Column("quota_message", sa.Text, nullable=True),
        sa.Column("widget", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_sites_public_key", "sites", ["public_key"], unique=True, if_not_exists=True)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_api_keys_hash", "api_keys", ["hash"], unique=True, if_not_exists=True)
    op.create_index("ix_api_keys_site_id", "api_keys", ["site_id"], if_not_exists=True)

    op.create_table(
        "widget_conversations",
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_widget_conversations_site_id", "widget_conversations", ["site_id"], if_not_exists=True)
    op.create_index("ix_widget_conversations_session_id", "widget_conversations", ["session_id"],
                    if_not_exists=True)

    op.create_table(
        "handoff_acks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("agent", sa.String(100), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_handoff_acks_conversation_id", "handoff_acks", ["conversation_id"], if_not_exists=True)


def downgrade() -> None:
    op.drop_table("handoff_acks")
    op.drop_table("widget_conversations")
    op.drop_table("api_keys")
    op.drop_table("sites")
