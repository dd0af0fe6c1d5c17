"""what was accepted at intake (case_record.start, emergency_record.start: ID numbers, phones,
the bank account) sealed with the key ring (store.sealed)

Needs the keys: ``store.migrate.upgrade(url, ring=...)`` (``python -m store.migrate`` passes the
configured ones). Without them it refuses, rather than leave the rows plain.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from domain.sealing import KeyRing
from store.sealed import TABLES, reseal_starts, unseal_starts

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    if not _any(connection, TABLES, sealed=False):
        return
    reseal_starts(connection, ring=_ring("seal"), plain_only=True)


def downgrade() -> None:
    connection = op.get_bind()
    if not _any(connection, TABLES, sealed=True):
        return
    unseal_starts(connection, ring=_ring("open"))


def _any(connection: sa.Connection, tables: list[sa.TableClause], *, sealed: bool) -> bool:
    for table in tables:
        like = table.c.start.like("aes-gcm:%")
        query = sa.select(table.c.case_no).where(like if sealed else sa.not_(like)).limit(1)
        if connection.execute(query).first() is not None:
            return True
    return False


def _ring(what: str) -> KeyRing:
    ring = op.get_context().config.attributes.get("key_ring")
    if ring is None:
        raise RuntimeError(
            f"migration 0007 must {what} the intakes kept in the case records with the "
            "encryption keys: run `python -m store.migrate` with JIUZHU_ENCRYPTION_KEYS set "
            "(or pass ring= to store.migrate.upgrade)"
        )
    return ring
