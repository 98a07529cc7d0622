"""Opening hours and contact addresses: each site's opening hours, and the e-mail address a customer leaves.

sites.opening_hours (JSON, NULL: always open; assistant/engine/opening_hours.py) and conversation_contacts (one
address per conversation, apart from the transcript; assistant/engine/contacts.py). Added only where missing, like
0006 and 0007: a database whose tables were made by create_all from the models may have them already.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_contacts",
        sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_conversation_contacts_site_id", "conversation_contacts", ["site_id"], if_not_exists=True)
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("sites")}
    if "opening_hours" not in have:
        with op.batch_alter_table("sites") as batch:
            batch.add_column(sa.Column("opening_hours", sa.JSON(), nullable=True))


def downgrade() -> None:
    # batch mode: SQLite before 3.35 cannot drop a column in place, so Alembic rebuilds the table there.
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("opening_hours")
    op.drop_index("ix_conversation_contacts_site_id", table_name="conversation_contacts")
    op.drop_table("conversation_contacts")
