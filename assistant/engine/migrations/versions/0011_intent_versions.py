"""Intent examples edited in the console: every add, removal, retirement, revert and retrain of a site's intents
is a new row (intent_versions.py).

Created only where missing (if_not_exists), like 0008: a database whose tables were made by create_all from the
models (the adoption path of migrations.ensure_schema) may have it already.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key to sites: like the audit log, the history is kept as written.
    op.create_table(
        "intent_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(128), nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("restores", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("site_id", "version", name="uq_intent_versions_version"),
        if_not_exists=True,
    )
    op.create_index("ix_intent_versions_site_id", "intent_versions", ["site_id"], if_not_exists=True)


def downgrade() -> None:
    op.drop_table("intent_versions")
