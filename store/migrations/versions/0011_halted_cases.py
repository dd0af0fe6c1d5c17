"""halted cases: the stage each was halted at, and when its payments were reconciled with the
bank (cases halted before this migration are reconciled by the worker's watch like any other)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    for table in ("case_record", "emergency_record"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("halted_from", sa.String(), nullable=True))
            batch.add_column(sa.Column("reconciled_at", UTC, nullable=True))


def downgrade() -> None:
    for table in ("case_record", "emergency_record"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("reconciled_at")
            batch.drop_column("halted_from")
