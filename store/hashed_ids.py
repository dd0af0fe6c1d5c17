"""ID numbers in the two tables that find cases by a person, kept as keyed hashes
(``KeyRing.index``) beside the id of their key, never in clear: ``household_claim`` (one open
case per person and type) and ``emergency_payout`` (the repeat rule). The full numbers live
only in the sealed intakes (``store.sealed``).

A look-up hashes the numbers under every key of the ring, so a row is found whichever key it
was kept under. A claim is written under every key of the ring: its primary key then settles a
race between two intakes of one person whenever their processes share a key, also while a
rotation is rolled out and one process hashes with the new key as current and another still
with the old (claims under the current key only would differ, and both intakes would win).
Hence a rotation in two steps: the new key added to every process, then made current.

After a rotation, ``rehash_batch`` brings the rows kept under another key to the current one
(the worker's watch runs it, and so does ``python -m store.migrate --reseal``): the person's
number comes from the case's sealed intake, matched to the row by its hash under the row's own
key. A row is changed in place, or dropped when its person already has a row under the current
key; never written anew, so a case that closes meanwhile cannot get its claim back. Idempotent,
a batch of cases per transaction.
"""

import json
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
import structlog
from sqlmodel import Session

from domain.recipients import is_recipient_number
from domain.sealing import KeyRing, Unsealable
from store.sealed import TABLES as INTAKES
from store.sealed import open_start

log = structlog.get_logger()

BATCH = 200
"""Cases re-hashed per transaction."""

CLAIMS = sa.table(
    "household_claim",
    *(
        sa.column(n, sa.String())
        for n in ("assistance_type", "id_number_hash", "key_id", "case_no")
    ),
)
PAYOUTS = sa.table(
    "emergency_payout",
    *(sa.column(n, sa.String()) for n in ("id_number_hash", "case_no", "key_id")),
)
RECIPIENTS = sa.table("recipient", sa.column("recipient_no"), sa.column("case_no"))
"""A claim's holder may be a recipient household (``store.recipients``): its case's intake."""
TABLES = {"household_claim": CLAIMS, "emergency_payout": PAYOUTS}
"""Only the columns hashing touches: the same definitions serve the migration (0010)."""
_KEYS = {"household_claim": ("assistance_type", "id_number_hash"), "emergency_payout": ("id_number_hash", "case_no")}  # fmt: skip
"""Each table's primary key."""


def look_up(ring: KeyRing, id_numbers: Iterable[str]) -> list[str]:
    """The hashes of these people under every key of the ring: what a look-up matches."""
    return [h for n in dict.fromkeys(id_numbers) for h in ring.indexes(n).values()]


def claim_rows(
    ring: KeyRing, *, assistance_type: str, id_numbers: Iterable[str], case_no: str
) -> list[dict[str, str]]:
    """The household's claim: each person under every key of the ring (see above)."""
    return [
        {"assistance_type": assistance_type, "id_number_hash": h, "key_id": k, "case_no": case_no}
        for n in dict.fromkeys(id_numbers)
        for k, h in ring.indexes(n).items()
    ]


def payout_rows(
    ring: KeyRing, *, id_numbers: Iterable[str], case_no: str, cause: str, paid_at: datetime
) -> list[dict]:
    """Each person paid, under the current key."""
    return [
        {"id_number_hash": ring.index(n), "key_id": ring.current, "case_no": case_no,
         "cause": cause, "paid_at": paid_at}
        for n in dict.fromkeys(id_numbers)
    ]  # fmt: skip


# --- after a rotation ------------------------------------------------------------------------------


def rehash_batch(
    session: Session, *, ring: KeyRing, table: str, after: str = ""
) -> tuple[int, str | None]:
    """Re-hash under the current key the rows of ``table`` kept under another, for the next
    ``BATCH`` cases numbered after ``after``: how many rows changed, and the last case done
    (None when no case was left). Run it until then, in a writing transaction each."""
    connection, rows = session.connection(), TABLES[table]
    cases = list(
        connection.execute(
            sa.select(rows.c.case_no)
            .where(rows.c.key_id != ring.current, rows.c.case_no > after)
            .group_by(rows.c.case_no)
            .order_by(rows.c.case_no)
            .limit(BATCH)
        ).scalars()
    )
    if not cases:
        return 0, None
    people = _people(connection, ring, cases)
    found = connection.execute(sa.select(rows).where(rows.c.case_no.in_(cases))).all()
    key = _KEYS[table]
    present = {tuple(getattr(r, c) for c in key) for r in found if r.key_id == ring.current}
    if table == "household_claim":  # a person's claim under the current key, whichever case
        hashes = [ring.index(n) for ids in people.values() for n in ids]
        present |= {
            tuple(r)
            for r in connection.execute(
                sa.select(rows.c.assistance_type, rows.c.id_number_hash).where(
                    rows.c.id_number_hash.in_(hashes)
                )
            )
        }

    def current_key(row, id_number: str) -> tuple:
        new = {"id_number_hash": ring.index(id_number), "case_no": row.case_no,
               "assistance_type": getattr(row, "assistance_type", None)}  # fmt: skip
        return tuple(new[c] for c in key)

    changed, left = 0, 0
    for row in found:
        if row.key_id == ring.current:
            continue
        ids = people.get(row.case_no)
        if ids is None:
            left += 1
            continue
        person = None
        if row.key_id in ring.key_ids:
            person = next(
                (n for n in ids if ring.index(n, key_id=row.key_id) == row.id_number_hash), None
            )
        this_row = sa.and_(*(getattr(rows.c, c) == getattr(row, c) for c in key))
        if person is None:  # its key has left the ring: needless once the case is all current
            if all(current_key(row, n) in present for n in ids):
                connection.execute(sa.delete(rows).where(this_row))
                changed += 1
            else:
                left += 1
            continue
        target = current_key(row, person)
        if target in present:
            connection.execute(sa.delete(rows).where(this_row))
        else:
            connection.execute(
                sa.update(rows)
                .where(this_row)
                .values(id_number_hash=ring.index(person), key_id=ring.current)
            )
            present.add(target)
        changed += 1
    if left:
        log.warning(
            "id_numbers.not_rehashed",
            table=table,
            rows=left,
            why="no intake kept for the case, or its key is not in the ring",
        )
    return changed, cases[-1]


def _people(connection: sa.Connection, ring: KeyRing, holders: list[str]) -> dict[str, list[str]]:
    """The ID numbers of each holder's household, from the sealed intake of its case — a
    recipient household's is the case that approved it (cases with none kept, or sealed under
    a key not in the ring, are left out)."""
    case_of = {h: h for h in holders}
    if households := [h for h in holders if is_recipient_number(h)]:
        case_of |= dict(
            connection.execute(
                sa.select(RECIPIENTS.c.recipient_no, RECIPIENTS.c.case_no).where(
                    RECIPIENTS.c.recipient_no.in_(households)
                )
            ).all()
        )
    intake = {}
    for intakes in INTAKES:
        for case_no, start in connection.execute(
            sa.select(intakes.c.case_no, intakes.c.start).where(
                intakes.c.case_no.in_(set(case_of.values())), intakes.c.start.is_not(None)
            )
        ):
            try:
                accepted = json.loads(open_start(start, case_no=case_no, ring=ring))
            except Unsealable:
                continue
            household = [accepted["applicant"], *accepted.get("household", [])]
            intake[case_no] = [p["id_number"] for p in household]
    return {h: intake[c] for h, c in case_of.items() if c in intake}


# --- the migration (0010) ------------------------------------------------------------------------


def hash_in_place(connection: sa.Connection, *, ring: KeyRing) -> int:
    """Rows written before hashing (``key_id`` empty, the number in clear in
    ``id_number_hash``): hashed under the current key. The number of rows."""
    written = 0
    for table, rows in TABLES.items():
        key = _KEYS[table]
        while found := connection.execute(
            sa.select(*(getattr(rows.c, c) for c in key))
            .where(rows.c.key_id.is_(None))
            .limit(1_000)
        ).all():
            for row in found:
                connection.execute(
                    sa.update(rows)
                    .where(*(getattr(rows.c, c) == getattr(row, c) for c in key))
                    .values(id_number_hash=ring.index(row.id_number_hash), key_id=ring.current)
                )
            written += len(found)
    return written


def unhash(connection: sa.Connection, *, ring: KeyRing) -> int:
    """Back to numbers in clear (the migration's downgrade), from the cases' sealed intakes; a
    person's second row (kept under another key) goes. ``RuntimeError`` when a row cannot be
    matched to its person (no intake kept, or its key not in the ring)."""
    written = 0
    for table, rows in TABLES.items():
        key = _KEYS[table]
        while found := connection.execute(
            sa.select(rows).where(rows.c.key_id.is_not(None)).limit(1_000)
        ).all():
            people = _people(connection, ring, list({r.case_no for r in found}))
            for row in found:
                this_row = sa.and_(*(getattr(rows.c, c) == getattr(row, c) for c in key))
                ids = people.get(row.case_no, []) if row.key_id in ring.key_ids else []
                person = next(
                    (n for n in ids if ring.index(n, key_id=row.key_id) == row.id_number_hash),
                    None,
                )
                if person is None:
                    raise RuntimeError(
                        f"a row of {table} (case {row.case_no}) cannot be matched to its "
                        f"person: its case keeps no intake, or key '{row.key_id}' is not in "
                        "the ring (JIUZHU_ENCRYPTION_KEYS)"
                    )
                plain = {"id_number_hash": person, "case_no": row.case_no,
                         "assistance_type": getattr(row, "assistance_type", None)}  # fmt: skip
                twin = connection.execute(
                    sa.select(rows.c.case_no).where(*(getattr(rows.c, c) == plain[c] for c in key))
                ).first()
                if twin is not None:
                    connection.execute(sa.delete(rows).where(this_row))
                else:
                    connection.execute(
                        sa.update(rows).where(this_row).values(id_number_hash=person, key_id=None)
                    )
                    written += 1
    return written
