"""each case's head (its newest audit entry: seq, hash, id) beside the trail, so a deleted
newest entry shows (store.evidence); audit entry ids never reused (SQLite AUTOINCREMENT)

The heads of the cases there are come from their trails as they stand now.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_head",
        sa.Column("case_no", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_no"),
    )
    op.execute(
        "INSERT INTO case_head (case_no, seq, hash, entry_id) "
        "SELECT a.case_no, a.seq, a.hash, a.id FROM audit_entry a "
        "WHERE a.seq = (SELECT max(b.seq) FROM audit_entry b WHERE b.case_no = a.case_no)"
    )
    if op.get_bind().dialect.name == "sqlite":
        # The table is made again with AUTOINCREMENT; its rows keep their ids, and SQLite
        # counts on from the largest of them.
        _rebuild_audit_entry(autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_audit_entry(autoincrement=False)
    op.drop_table("case_head")


def _rebuild_audit_entry(*, autoincrement: bool) -> None:
    with op.batch_alter_table(
        "audit_entry", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
