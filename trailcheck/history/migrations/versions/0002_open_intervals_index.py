"""A partial index on the open intervals: each recording reads exactly those (the scan's
accounts, `ended_at IS NULL`), and closed ones pile up forever.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_intervals_open",
        "intervals",
        ["finding_id"],
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_intervals_open", table_name="intervals")
