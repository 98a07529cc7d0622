"""One message per (conversation, seq): two replicas appending to one conversation can no longer
interleave silently; the store locks the conversation row so the second writer waits instead.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot add a constraint in place, so Alembic rebuilds the table there.
    with op.batch_alter_table("messages") as batch:
        batch.create_unique_constraint("uq_messages_conversation_seq", ["conversation_id", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_conversation_seq", type_="unique")
