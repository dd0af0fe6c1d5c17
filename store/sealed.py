"""What was accepted at intake (the ``start`` column of ``case_record`` and ``emergency_record``:
ID numbers, phones, the bank account) is kept sealed with the key ring, bound to its case
number. A row still plain (written before migration 0007_sealed_intake, which seals them) is
read as it is."""

import os
from collections.abc import Callable

import sqlalchemy as sa

from domain.sealing import NONCE_BYTES, TEXT_PREFIX, KeyRing, Sealed, is_sealed_text

CHUNK = 1_000
TABLES = [
    sa.table(name, sa.column("case_no", sa.String()), sa.column("start", sa.String()))
    for name in ("case_record", "emergency_record")
]
"""Only the two columns sealing touches: the same definition serves the migration."""


def _purpose(case_no: str) -> bytes:
    return f"case-start:{case_no}".encode()


def seal_start(text: str, *, case_no: str, ring: KeyRing) -> str:
    sealed = ring.seal(text.encode(), purpose=_purpose(case_no), nonce=os.urandom(NONCE_BYTES))
    return sealed.as_text()


def open_start(text: str, *, case_no: str, ring: KeyRing) -> str:
    if not is_sealed_text(text):
        return text
    return ring.open(Sealed.from_text(text), purpose=_purpose(case_no)).decode()


def reseal_starts(connection: sa.Connection, *, ring: KeyRing, plain_only: bool = False) -> int:
    """Seal every plain ``start`` under the current key, and (unless ``plain_only``) seal
    again those sealed under another key, so that key can leave the ring. The number of rows
    written."""
    current = f"{TEXT_PREFIX}{ring.current}:"

    def stale(text: str) -> bool:
        return not is_sealed_text(text) or not (plain_only or text.startswith(current))

    def reseal(text: str, case_no: str) -> str:
        return seal_start(open_start(text, case_no=case_no, ring=ring), case_no=case_no, ring=ring)

    return _rewrite(connection, stale, reseal)


def unseal_starts(connection: sa.Connection, *, ring: KeyRing) -> int:
    """Back to plain JSON (the migration's downgrade)."""
    return _rewrite(
        connection,
        is_sealed_text,
        lambda text, case_no: open_start(text, case_no=case_no, ring=ring),
    )


def _rewrite(
    connection: sa.Connection,
    chosen: Callable[[str], bool],
    rewritten: Callable[[str, str], str],
) -> int:
    """Rewrite the chosen ``start`` texts of both tables, a chunk at a time (keyset on
    case_no: bounded memory, no cursor open across the updates)."""
    written = 0
    for table in TABLES:
        update = (
            sa.update(table)
            .where(table.c.case_no == sa.bindparam("_case_no"))
            .values(start=sa.bindparam("_start"))
        )
        after = ""
        while rows := connection.execute(
            sa.select(table.c.case_no, table.c.start)
            .where(table.c.case_no > after, table.c.start.is_not(None))
            .order_by(table.c.case_no)
            .limit(CHUNK)
        ).all():
            after = rows[-1].case_no
            changes = [
                {"_case_no": r.case_no, "_start": rewritten(r.start, r.case_no)}
                for r in rows
                if chosen(r.start)
            ]
            if changes:
                connection.execute(update, changes)
                written += len(changes)
    return written
