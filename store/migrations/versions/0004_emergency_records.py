"""emergency case records; a village's own urban or rural area; the village of a staff notice

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "emergency_record",
        sa.Column("case_no", sa.String(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("township", sa.String(), nullable=False),
        sa.Column("village", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("cause", sa.String(), nullable=False),
        sa.Column("applicant_name", sa.String(), nullable=False),
        sa.Column("applicant_id_number", sa.String(), nullable=False),
        sa.Column("household_size", sa.Integer(), nullable=False),
        sa.Column("assignee", sa.String(), nullable=False),
        sa.Column("requested_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pay_by", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_amount", store.types.Money(), nullable=False),
        sa.Column("approved_amount", store.types.Money(), nullable=True),
        sa.Column("approved_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paid_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("follow_up_due", sa.Date(), nullable=True),
        sa.Column("closed_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("payout_overdue", sa.Boolean(), nullable=False),
        sa.Column("follow_up_overdue", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("view", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("case_no"),
    )
    for column in (
        "stage",
        "township",
        "village",
        "cause",
        "applicant_id_number",
        "requested_at",
        "pay_by",
        "overdue",
    ):
        op.create_index(f"ix_emergency_record_{column}", "emergency_record", [column])

    # 社区 (居委会) are urban, 村 rural: the village, not its township, decides the standard.
    with op.batch_alter_table("village") as batch:
        batch.add_column(sa.Column("area", sa.String(), nullable=False, server_default="urban"))
    op.execute("UPDATE village SET area = 'rural' WHERE name LIKE '%村'")

    with op.batch_alter_table("staff_notification") as batch:
        batch.add_column(sa.Column("village", sa.String(), nullable=False, server_default=""))
        batch.create_index("ix_staff_notification_village", ["village"])


def downgrade() -> None:
    with op.batch_alter_table("staff_notification") as batch:
        batch.drop_index("ix_staff_notification_village")
        batch.drop_column("village")
    with op.batch_alter_table("village") as batch:
        batch.drop_column("area")
    op.drop_table("emergency_record")
