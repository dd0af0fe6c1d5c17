"""sweeps of a township's villages (摸底排查) and the watch list (低保边缘、动态监测)

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UTC = store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sweep",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("township", sa.String(), nullable=False, index=True),
        sa.Column("swept_on", sa.Date(), nullable=False, index=True),
        sa.Column("villages", sa.String(), nullable=False),
        sa.Column("families", sa.Integer(), nullable=False),
        sa.Column("referrals", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("recorded_by", sa.String(), nullable=False),
    )
    op.create_table(
        "watch_entry",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("reason", sa.String(), nullable=False, index=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("township", sa.String(), nullable=False, index=True),
        sa.Column("village", sa.String(), nullable=False, index=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("id_number", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=False),
        sa.Column("person", sa.String(), nullable=False),
        sa.Column("id_number_hash", sa.String(), nullable=False, index=True),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("income_per_person", store.types.Money(), nullable=True),
        sa.Column("status", sa.String(), nullable=False, index=True),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("watch_until", sa.Date(), nullable=False, index=True),
        sa.Column("check_up_due", sa.Date(), nullable=False, index=True),
        sa.Column("last_check_up", sa.Date(), nullable=True),
        sa.Column("last_outcome", sa.String(), nullable=True),
        sa.Column("last_note", sa.String(), nullable=False),
        sa.Column("case_no", sa.String(), nullable=True),
        sa.Column("added_at", UTC, nullable=False),
        sa.Column("added_by", sa.String(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("watch_entry")
    op.drop_table("sweep")
