"""referrals from other departments (部门转介): the referral, the open referrals' claims on
their family (keyed hashes), and the referral numbers' counter

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC = store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "referral",
        sa.Column("referral_no", sa.String(), primary_key=True),
        sa.Column("department", sa.String(), nullable=False, index=True),
        sa.Column("situation", sa.String(), nullable=False, index=True),
        sa.Column("township", sa.String(), nullable=False, index=True),
        sa.Column("village", sa.String(), nullable=False, index=True),
        sa.Column("family_name", sa.String(), nullable=False),
        sa.Column("id_number", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, index=True),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("received_by", sa.String(), nullable=False),
        sa.Column("verify_by", sa.Date(), nullable=False, index=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("reasons", sa.String(), nullable=False),
        sa.Column("referred_to", sa.String(), nullable=True),
        sa.Column("linked_case", sa.String(), nullable=True),
        sa.Column("linked_recipient", sa.String(), nullable=True),
        sa.Column("linked_referral", sa.String(), nullable=True, index=True),
        sa.Column("case_no", sa.String(), nullable=True),
        sa.Column("acted_at", UTC, nullable=True),
        sa.Column("acted_by", sa.String(), nullable=True),
    )
    op.create_table(
        "referral_claim",
        sa.Column("id_number_hash", sa.String(), primary_key=True),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("referral_no", sa.String(), nullable=False, index=True),
    )
    op.create_table(
        "referral_counter",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("referral_counter")
    op.drop_table("referral_claim")
    op.drop_table("referral")
