"""the applicant's ID number kept masked in the case tables (region code and last four): they
only ever show it masked; the full number stays in the sealed intake (0007)

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("case_record", "emergency_record")


def upgrade() -> None:
    # Written in SQL both SQLite and PostgreSQL read; the same shape as
    # domain.identity.mask_id_number. Rows already masked, or without a number, stay.
    for table in TABLES:
        op.execute(
            f"UPDATE {table} SET applicant_id_number = substr(applicant_id_number, 1, 6) "
            "|| '********' || substr(applicant_id_number, length(applicant_id_number) - 3, 4) "
            "WHERE length(applicant_id_number) >= 10 AND applicant_id_number NOT LIKE '%*%'"
        )


def downgrade() -> None:
    """Nothing to undo in place: the full numbers are in the sealed intakes."""
