"""The first history schema: scans, the accounts each covered, findings, status intervals and
content-addressed documents (rule catalogue, account names, waivers stored once per content).

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", TS, nullable=False, index=True),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("tool_version", sa.String(64), nullable=False),
        sa.Column("partition", sa.String(32), nullable=False),
        sa.Column("organization_id", sa.String(64)),
        sa.Column("management_account_id", sa.String(32)),
        sa.Column("regions", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("report_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("snapshot_sha256", sa.String(64)),
        sa.Column("rules_doc", sa.String(64), sa.ForeignKey("documents.sha256"), nullable=False),
        sa.Column("accounts_doc", sa.String(64), sa.ForeignKey("documents.sha256"), nullable=False),
        sa.Column("waivers_doc", sa.String(64), sa.ForeignKey("documents.sha256"), nullable=False),
    )
    op.create_table(
        "scan_accounts",
        sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id"), primary_key=True),
        sa.Column("account_id", sa.String(32), primary_key=True),
        sa.Column("reachable", sa.Boolean, nullable=False),
    )
    op.create_index("ix_scan_accounts_account", "scan_accounts", ["account_id"])
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(32), nullable=False, unique=True),
        sa.Column("rule_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False, index=True),
        sa.Column("region", sa.String(32)),
        sa.Column("resource_arn", sa.Text, nullable=False),
        sa.Column("resource_type", sa.String(128), nullable=False),
    )
    op.create_table(
        "intervals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.Integer, sa.ForeignKey("findings.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("waived", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("first_scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("ended_scan_id", sa.Integer, sa.ForeignKey("scans.id")),
        sa.Column("ended_at", TS),
    )
    op.create_index("ix_intervals_finding", "intervals", ["finding_id", "ended_at"])
    op.create_index("ix_intervals_period", "intervals", ["first_seen", "ended_at"])


def downgrade() -> None:
    for table in ("intervals", "findings", "scan_accounts", "scans", "documents"):
        op.drop_table(table)
