"""reviews of recipient households (定期核查, and those a reported change opens): one row per
review; each household's next review's due date and its open review

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTC = store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "benefit_review",
        sa.Column("review_no", sa.String(), primary_key=True),
        sa.Column("recipient_no", sa.String(), nullable=False, index=True),
        sa.Column("assistance_type", sa.String(), nullable=False, index=True),
        sa.Column("township", sa.String(), nullable=False, index=True),
        sa.Column("village", sa.String(), nullable=False, index=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False, index=True),
        sa.Column("opened_at", UTC, nullable=False),
        sa.Column("decision_due", sa.Date(), nullable=False, index=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("view", sa.String(), nullable=False),
        sa.Column("start", sa.String(), nullable=False),
    )
    with op.batch_alter_table("recipient") as table:
        table.add_column(sa.Column("review_due", sa.Date(), nullable=True))
        table.add_column(sa.Column("open_review", sa.String(), nullable=True))
        table.create_index("ix_recipient_review_due", ["review_due"])


def downgrade() -> None:
    with op.batch_alter_table("recipient") as table:
        table.drop_index("ix_recipient_review_due")
        table.drop_column("open_review")
        table.drop_column("review_due")
    op.drop_table("benefit_review")
