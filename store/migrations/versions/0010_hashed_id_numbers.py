"""household_claim and emergency_payout keep a keyed hash of each ID number (HMAC-SHA256 under
a key derived from the encryption key ring) and its key's id, never the number
(store.hashed_ids); the repeat rule's index by cause goes (it looks people up, any cause)

Needs the keys when there are rows: ``store.migrate.upgrade(url, ring=...)`` (``python -m
store.migrate`` passes the configured ones). Without them it refuses, rather than leave the
numbers in clear. The downgrade takes the numbers back from the cases' sealed intakes.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from domain.sealing import KeyRing
from store.hashed_ids import TABLES, hash_in_place, unhash

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_INDEX = "ix_emergency_payout_id_number_cause"


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            if table == "emergency_payout":
                batch.drop_index(OLD_INDEX)
            batch.alter_column(
                "id_number",
                new_column_name="id_number_hash",
                existing_type=sa.String(),
                existing_nullable=False,
            )
            batch.add_column(sa.Column("key_id", sa.String(), nullable=True))
    connection = op.get_bind()
    if _any(connection):
        hash_in_place(connection, ring=_ring("hash"))
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("key_id", existing_type=sa.String(), nullable=False)


def downgrade() -> None:
    connection = op.get_bind()
    if _any(connection):
        ring = _ring("take back")
        for table in TABLES:  # a row taken back loses its key's id
            with op.batch_alter_table(table) as batch:
                batch.alter_column("key_id", existing_type=sa.String(), nullable=True)
        unhash(connection, ring=ring)
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("key_id")
            batch.alter_column(
                "id_number_hash",
                new_column_name="id_number",
                existing_type=sa.String(),
                existing_nullable=False,
            )
    op.create_index(OLD_INDEX, "emergency_payout", ["id_number", "cause"])


def _any(connection: sa.Connection) -> bool:
    return any(
        connection.execute(sa.select(rows.c.case_no).limit(1)).first() is not None
        for rows in TABLES.values()
    )


def _ring(what: str) -> KeyRing:
    ring = op.get_context().config.attributes.get("key_ring")
    if ring is None:
        raise RuntimeError(
            f"migration 0010 must {what} the ID numbers of household_claim and emergency_payout "
            "with the encryption keys: run `python -m store.migrate` with "
            "JIUZHU_ENCRYPTION_KEYS set (or pass ring= to store.migrate.upgrade)"
        )
    return ring
