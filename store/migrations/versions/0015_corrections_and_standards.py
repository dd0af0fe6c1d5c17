"""corrections (容错纠错) and what they found overpaid, findings of dishonesty (失信) with their
members' ID numbers as keyed hashes, and the 低保 standards set from a month

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC = store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "benefit_recovery",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recipient_no", sa.String(), nullable=False, index=True),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("months", sa.String(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("recorded_by", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("outcome_note", sa.String(), nullable=False),
        sa.Column("outcome_at", UTC, nullable=True),
        sa.Column("outcome_by", sa.String(), nullable=True),
    )
    op.create_table(
        "dishonesty_finding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recipient_no", sa.String(), nullable=False, index=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("reasons", sa.String(), nullable=False),
        sa.Column("effective_month", sa.String(), nullable=True),
        sa.Column("found_at", UTC, nullable=False),
        sa.Column("found_by", sa.String(), nullable=False),
    )
    op.create_table(
        "dishonesty_member",
        sa.Column("finding_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("id_number_hash", sa.String(), primary_key=True, index=True),
        sa.Column("key_id", sa.String(), nullable=False),
    )
    op.create_table(
        "dibao_standard_change",
        sa.Column("from_month", sa.String(), primary_key=True),
        sa.Column("urban", store.types.Money(), nullable=False),
        sa.Column("rural", store.types.Money(), nullable=False),
        sa.Column("reasons", sa.String(), nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("recorded_by", sa.String(), nullable=False),
        sa.Column("completed_at", UTC, nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    for table in (
        "dibao_standard_change", "dishonesty_member", "dishonesty_finding", "benefit_recovery",
    ):  # fmt: skip
        op.drop_table(table)
