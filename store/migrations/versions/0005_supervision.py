"""what supervision and the compliance audit read: when a case entered its stage, the visit,
paused and extended working days, the original decision due date, the stage that held it
longest, refusals by external systems, problems the engine reports, retrying calls, and what
was accepted (to start a workflow lost at intake)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC = store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("case_record") as batch:
        batch.add_column(sa.Column("stage_since", UTC, nullable=True))
        batch.add_column(sa.Column("visited_on", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("paused_working_days", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("original_decision_due", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("extended_working_days", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("longest_stage", sa.String(), nullable=True))
        batch.add_column(
            sa.Column(
                "verification_refused", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(
            sa.Column("notice_refused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column(
                "awaiting_bank_account", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("assigned_at", UTC, nullable=True))
        batch.add_column(sa.Column("engine_problem", sa.String(), nullable=True))
        batch.add_column(sa.Column("start", sa.String(), nullable=True))
    with op.batch_alter_table("emergency_record") as batch:
        batch.add_column(sa.Column("stage_since", UTC, nullable=True))
        batch.add_column(sa.Column("reviewed_at", UTC, nullable=True))
        batch.add_column(sa.Column("longest_stage", sa.String(), nullable=True))
        batch.add_column(
            sa.Column("notice_refused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("assigned_at", UTC, nullable=True))
        batch.add_column(sa.Column("engine_problem", sa.String(), nullable=True))
        batch.add_column(sa.Column("start", sa.String(), nullable=True))
    # Before this migration, the original due date was the one in force (no deadline could be
    # extended).
    op.execute("UPDATE case_record SET original_decision_due = decision_due")
    op.create_table(
        "activity_retry",
        sa.Column("case_no", sa.String(), nullable=False),
        sa.Column("activity", sa.String(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.String(), nullable=False),
        sa.Column("failed_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("case_no", "activity"),
    )


def downgrade() -> None:
    op.drop_table("activity_retry")
    with op.batch_alter_table("emergency_record") as batch:
        for column in (
            "start",
            "engine_problem",
            "assigned_at",
            "notice_refused",
            "longest_stage",
            "reviewed_at",
            "stage_since",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("case_record") as batch:
        for column in (
            "start", "engine_problem", "assigned_at", "awaiting_bank_account", "notice_refused",
            "verification_refused", "longest_stage", "extended_working_days",
            "original_decision_due", "paused_working_days", "visited_on", "stage_since",
        ):  # fmt: skip
            batch.drop_column(column)
