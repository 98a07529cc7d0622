"""Each site its own assistant: the site's company name, greeting, system prompt, handoff and abstain messages.

NULL means "not set": the default site then speaks with the global settings, any other site with the built-in
defaults in its own name (assistant/engine/site_profile.py). The templates and intents files were columns already
(0004). A column is added only where missing: a database whose sites table was made by create_all from the models
(the adoption path of migrations.ensure_schema) has them already.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (("company", sa.String(200)), ("greeting", sa.Text()), ("system_prompt", sa.Text()),
           ("handoff_message", sa.Text()), ("abstain_message", sa.Text()))


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("sites")}
    with op.batch_alter_table("sites") as batch:
        for name, type_ in COLUMNS:
            if name not in have:
                batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    # batch mode: SQLite before 3.35 cannot drop a column in place, so Alembic rebuilds the table there.
    with op.batch_alter_table("sites") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
