"""the audit trail's hash chain (every entry carries the hash of the case's entry before it)
and its seals (domain.evidence)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import store.types
from domain.evidence import CONTENT, GENESIS, entry_hash

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = store.types.UTCDateTime(timezone=True)
CHUNK = 5_000

_TYPES = {"id": sa.Integer(), "seq": sa.Integer(), "at": UTC}
entries = sa.table(
    "audit_entry",
    *(sa.column(name, _TYPES.get(name, sa.String())) for name in ("id", *CONTENT)),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(), nullable=True))
    _fill_hashes(op.get_bind())
    # From now on an entry without its hash cannot be written, not even by a process still
    # running the code from before this migration (it fails and is retried by one running this
    # code).
    with op.batch_alter_table("audit_entry") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(), nullable=False)
    op.create_table(
        "audit_seal",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("up_to_id", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(), nullable=False),
        sa.Column("sealed_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )


def _fill_hashes(connection: sa.Connection) -> None:
    """Chain the entries written before, case by case in seq order, with the function that
    chains every new one. A chunk at a time (keyset on case_no, seq): bounded memory, and no
    cursor open across the updates."""
    fill = (
        sa.update(entries)
        .where(entries.c.id == sa.bindparam("_id"))
        .values(prev_hash=sa.bindparam("_prev"), hash=sa.bindparam("_hash"))
    )
    order = sa.tuple_(entries.c.case_no, entries.c.seq)
    last, case_no, prev = None, None, GENESIS
    while True:
        query = sa.select(entries).order_by(entries.c.case_no, entries.c.seq).limit(CHUNK)
        if last is not None:
            query = query.where(order > sa.tuple_(*last))
        rows = connection.execute(query).all()
        if not rows:
            return
        updates = []
        for row in rows:
            if row.case_no != case_no:
                case_no, prev = row.case_no, GENESIS
            digest = entry_hash(row._mapping, prev)
            updates.append({"_id": row.id, "_prev": prev, "_hash": digest})
            prev = digest
        connection.execute(fill, updates)
        last = (rows[-1].case_no, rows[-1].seq)


def downgrade() -> None:
    op.drop_table("audit_seal")
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
