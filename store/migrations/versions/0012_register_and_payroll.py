"""the register of recipient households (建档立卡) and the monthly payroll: households, their
numbers, each month's payroll, its items (one per household and month) and its batches; the
household claims of 低保 and 特困 applications become one ("standing": a person has one
standing benefit, applied for or held)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recipient",
        sa.Column("recipient_no", sa.String(), primary_key=True),
        sa.Column("case_no", sa.String(), nullable=False, index=True),
        sa.Column("assistance_type", sa.String(), nullable=False, index=True),
        sa.Column("township", sa.String(), nullable=False, index=True),
        sa.Column("village", sa.String(), nullable=False, index=True),
        sa.Column("applicant_name", sa.String(), nullable=False),
        sa.Column("household_size", sa.Integer(), nullable=False),
        sa.Column("monthly_amount", store.types.Money(), nullable=False),
        sa.Column("start_month", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, index=True),
        sa.Column("bank_account", sa.String(), nullable=False),
        sa.Column("registered_at", UTC, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("view", sa.String(), nullable=False),
        sa.Column("payee", sa.String(), nullable=False),
    )
    op.create_table(
        "recipient_counter",
        sa.Column("assistance_type", sa.String(), primary_key=True),
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer(), nullable=False),
    )
    op.create_table(
        "payroll",
        sa.Column("month", sa.String(), primary_key=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("started_by", sa.String(), nullable=False),
        sa.Column("completed_at", UTC, nullable=True),
    )
    op.create_table(
        "payroll_item",
        sa.Column("recipient_no", sa.String(), primary_key=True),
        sa.Column("month", sa.String(), primary_key=True),
        sa.Column("township", sa.String(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, index=True),
        sa.Column("key", sa.String(), nullable=False, unique=True),
        sa.Column("transfer_id", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("reissue_key", sa.String(), nullable=True, unique=True),
        sa.Column("reissues", sa.Integer(), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_payroll_item_month_township_part", "payroll_item", ["month", "township", "part"]
    )
    op.create_table(
        "payroll_batch",
        sa.Column("month", sa.String(), primary_key=True),
        sa.Column("township", sa.String(), primary_key=True),
        sa.Column("part", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("batch_key", sa.String(), nullable=False, unique=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("bank_batch_id", sa.String(), nullable=True),
        sa.Column("bank_paid_count", sa.Integer(), nullable=True),
        sa.Column("bank_paid_fen", sa.BigInteger(), nullable=True),
        sa.Column("items_paid_count", sa.Integer(), nullable=True),
        sa.Column("items_paid_fen", sa.BigInteger(), nullable=True),
        sa.Column("reconciled_at", UTC, nullable=True),
    )

    # One claim per person for 低保 and 特困 together. A person in an open application of each
    # (which this rule now forbids) keeps the 低保 one's claim.
    op.execute(
        "DELETE FROM household_claim WHERE assistance_type = 'tekun' AND id_number_hash IN "
        "(SELECT id_number_hash FROM household_claim WHERE assistance_type = 'dibao')"
    )
    op.execute(
        "UPDATE household_claim SET assistance_type = 'standing' "
        "WHERE assistance_type IN ('dibao', 'tekun')"
    )


def downgrade() -> None:
    # Which of the two a standing claim was is not kept: they go back as 低保's.
    op.execute(
        "UPDATE household_claim SET assistance_type = 'dibao' WHERE assistance_type = 'standing'"
    )
    for table in ("payroll_batch", "payroll_item", "payroll", "recipient_counter", "recipient"):
        op.drop_table(table)
