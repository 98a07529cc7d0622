"""People who answer: the agent queue, internal notes, the audit log, webhook deliveries and each site's webhook.

Created only where missing (if_not_exists), like 0003 and 0004: a database whose tables were made by create_all
from the models (the adoption path of migrations.ensure_schema) may have them already.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "handoff_queue",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("handoff_at", TZ, nullable=True),
        sa.Column("agent", sa.String(100), nullable=True),
        sa.Column("claimed_at", TZ, nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("closed_by", sa.String(100), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        if_not_exists=True,
    )
    op.create_index("ix_handoff_queue_conversation_id", "handoff_queue", ["conversation_id"], if_not_exists=True)
    op.create_index("ix_handoff_queue_site_id", "handoff_queue", ["site_id"], if_not_exists=True)
    op.create_index("ix_handoff_queue_closed_at", "handoff_queue", ["closed_at"], if_not_exists=True)
    op.create_table(
        "agent_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_agent_notes_conversation_id", "agent_notes", ["conversation_id"], if_not_exists=True)
    op.create_index("ix_agent_notes_site_id", "agent_notes", ["site_id"], if_not_exists=True)
    # No foreign keys: audit entries and delivery records outlive the conversations and sites they name.
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], if_not_exists=True)
    op.create_index("ix_audit_log_site_id", "audit_log", ["site_id"], if_not_exists=True)
    op.create_index("ix_audit_log_action", "audit_log", ["action"], if_not_exists=True)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=True),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("http_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        if_not_exists=True,
    )
    op.create_index("ix_webhook_deliveries_site_id", "webhook_deliveries", ["site_id"], if_not_exists=True)
    op.create_index("ix_webhook_deliveries_conversation_id", "webhook_deliveries", ["conversation_id"], if_not_exists=True)
    op.create_index("ix_webhook_deliveries_created_at", "webhook_deliveries", ["created_at"], if_not_exists=True)
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("sites")}
    with op.batch_alter_table("sites") as batch:
        for name, kind in (("webhook_url", sa.String(500)), ("webhook_secret", sa.String(200)),
                           ("webhook_format", sa.String(16))):
            if name not in have:
                batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    # batch mode: SQLite before 3.35 cannot drop a column in place, so Alembic rebuilds the table there.
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("webhook_format")
        batch.drop_column("webhook_secret")
        batch.drop_column("webhook_url")
    op.drop_table("webhook_deliveries")
    op.drop_table("audit_log")
    op.drop_table("agent_notes")
    op.drop_table("handoff_queue")
