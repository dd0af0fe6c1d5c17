"""indexes the supervision summary and the stuck list count by

An application whose work is unfinished though its stage is closed (approved and not yet paid,
refused and the written refusal not yet sent) is found by its stage and those two moments, not
by reading every approved case; the approved and paid 低保/特困 cases (those missing from the
register are counted by township) are read from the index alone.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_case_record_unfinished",
        "case_record",
        ["stage", "first_payment_at", "refusal_notified_at"],
    )
    op.create_index(
        "ix_case_record_paid",
        "case_record",
        ["assistance_type", "first_payment_at", "township", "case_no"],
    )


def downgrade() -> None:
    op.drop_index("ix_case_record_paid", table_name="case_record")
    op.drop_index("ix_case_record_unfinished", table_name="case_record")
