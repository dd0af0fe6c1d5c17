"""initial schema, with the district's townships and villages as seed rows

Revision ID: 0001
Revises:
Create Date: 2026-11-29 06:02:38.649297
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types
from domain.townships import SEED_TOWNSHIPS

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_no", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("user_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("from_stage", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("to_stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_no", "seq"),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_case_no"), ["case_no"], unique=False)

    op.create_table(
        "calendar_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    with op.batch_alter_table("calendar_day", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_day_year"), ["year"], unique=False)

    op.create_table(
        "calendar_year",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("published_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("published_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "case_counter",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "case_record",
        sa.Column("case_no", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("assistance_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("township", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("village", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("applicant_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("applicant_id_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("household_size", sa.Integer(), nullable=False),
        sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("conflict_of_interest", sa.Boolean(), nullable=False),
        sa.Column("accepted_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("survey_due", sa.Date(), nullable=False),
        sa.Column("decision_due", sa.Date(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("paused_from", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("surveyed_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notice_started_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notice_ends_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refusal_notice_due", sa.Date(), nullable=True),
        sa.Column("refusal_notified_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_payment_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("monthly_amount", store.types.Money(precision=14, scale=2), nullable=True),
        sa.Column("objections", sa.Integer(), nullable=False),
        sa.Column("survey_overdue", sa.Boolean(), nullable=False),
        sa.Column("decision_overdue", sa.Boolean(), nullable=False),
        sa.Column("refusal_notice_overdue", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("view", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("case_no"),
    )
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_record_applicant_id_number"), ["applicant_id_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_case_record_assistance_type"), ["assistance_type"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_case_record_decision_due"), ["decision_due"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_record_overdue"), ["overdue"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_record_provisional"), ["provisional"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_record_stage"), ["stage"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_record_township"), ["township"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_record_village"), ["village"], unique=False)

    op.create_table(
        "household_claim",
        sa.Column("assistance_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("id_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("case_no", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("assistance_type", "id_number"),
    )
    with op.batch_alter_table("household_claim", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_household_claim_case_no"), ["case_no"], unique=False)

    op.create_table(
        "idempotency_record",
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key"),
    )
    op.create_table(
        "staff_notification",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("case_no", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("township", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("staff_notification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_notification_assignee"), ["assignee"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_staff_notification_case_no"), ["case_no"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_staff_notification_township"), ["township"], unique=False
        )

    op.create_table(
        "township",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("area", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "village",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("township_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["township_code"],
            ["township.code"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("village", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_village_township_code"), ["township_code"], unique=False
        )

    township = sa.table("township", sa.column("code"), sa.column("name"), sa.column("area"))
    village = sa.table("village", sa.column("code"), sa.column("township_code"), sa.column("name"))
    op.bulk_insert(
        township, [{"code": t.code, "name": t.name, "area": t.area} for t in SEED_TOWNSHIPS]
    )
    op.bulk_insert(
        village,
        [
            {"code": v.code, "township_code": t.code, "name": v.name}
            for t in SEED_TOWNSHIPS
            for v in t.villages
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("village", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_village_township_code"))

    op.drop_table("village")
    op.drop_table("township")
    with op.batch_alter_table("staff_notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_notification_township"))
        batch_op.drop_index(batch_op.f("ix_staff_notification_case_no"))
        batch_op.drop_index(batch_op.f("ix_staff_notification_assignee"))

    op.drop_table("staff_notification")
    op.drop_table("idempotency_record")
    with op.batch_alter_table("household_claim", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_claim_case_no"))

    op.drop_table("household_claim")
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_record_village"))
        batch_op.drop_index(batch_op.f("ix_case_record_township"))
        batch_op.drop_index(batch_op.f("ix_case_record_stage"))
        batch_op.drop_index(batch_op.f("ix_case_record_provisional"))
        batch_op.drop_index(batch_op.f("ix_case_record_overdue"))
        batch_op.drop_index(batch_op.f("ix_case_record_decision_due"))
        batch_op.drop_index(batch_op.f("ix_case_record_assistance_type"))
        batch_op.drop_index(batch_op.f("ix_case_record_applicant_id_number"))

    op.drop_table("case_record")
    op.drop_table("case_counter")
    op.drop_table("calendar_year")
    with op.batch_alter_table("calendar_day", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_day_year"))

    op.drop_table("calendar_day")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_case_no"))

    op.drop_table("audit_entry")
