"""indexes holding every column the compliance report reads of an application and an emergency

The report reads some 88,000 rows of a district's year but only a few narrow columns of each;
on SQLite those columns sit after the overflow pages of each row's view and sealed intake, so
reading them from the table walks those pages. An index holding exactly those columns (an
application's township first, for a township's report) answers the report alone, the rows
untouched.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

APPLICATION_FACTS = [
    "township", "village", "assistance_type", "stage", "accepted_at", "decided_at",
    "closed_at", "stage_since", "survey_due", "visited_on", "decision_due",
    "refusal_notice_due", "refusal_notified_at", "paused_working_days",
    "extended_working_days", "longest_stage", "provisional",
]  # fmt: skip
"""What ``store.compliance.application_facts`` reads and filters by."""

EMERGENCY_FACTS = [
    "requested_at", "township", "village", "cause", "stage", "pay_by", "paid_at",
    "follow_up_due", "reviewed_at", "closed_at",
]  # fmt: skip
"""What ``store.compliance.emergency_facts`` reads and filters by: its request first, the one
bound both its conditions share (a township's report keeps the township's own index)."""


def upgrade() -> None:
    op.create_index("ix_case_record_compliance", "case_record", APPLICATION_FACTS)
    op.create_index("ix_emergency_record_compliance", "emergency_record", EMERGENCY_FACTS)


def downgrade() -> None:
    op.drop_index("ix_emergency_record_compliance", table_name="emergency_record")
    op.drop_index("ix_case_record_compliance", table_name="case_record")
