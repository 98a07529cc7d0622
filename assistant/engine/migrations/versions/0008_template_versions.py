"""Curated replies edited in the console: every add, edit, retire or revert of a site's template is a new row.

Created only where missing (if_not_exists), like 0003, 0004 and 0007: a database whose tables were made by
create_all from the models (the adoption path of migrations.ensure_schema) may have it already.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key to sites: like the audit log, the history is kept as written.
    op.create_table(
        "template_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("template_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(128), nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("requires", sa.JSON, nullable=False),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("restores", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("site_id", "template_id", "version", name="uq_template_versions_version"),
        if_not_exists=True,
    )
    op.create_index("ix_template_versions_site_id", "template_versions", ["site_id"], if_not_exists=True)


def downgrade() -> None:
    op.drop_table("template_versions")
