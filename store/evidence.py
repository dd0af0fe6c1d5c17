"""The audit trail's hash chains and seals in the database (``domain.evidence`` explains them):
the hash of a new entry's predecessor, sealing, and verifying everything."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile

from sqlmodel import Session, select

from domain.evidence import CONTENT, GENESIS, entry_hash, seal_root
from store.tables import AuditEntryRecord, AuditSeal

SEAL_MARGIN = timedelta(minutes=5)
SEAL_BATCH = 10_000
"""At most this many entries per seal: each seal is one short transaction."""
_STREAM = 5_000
"""Rows fetched at a time while verifying (a server-side cursor on PostgreSQL)."""

E = AuditEntryRecord


def previous_hash(session: Session, *, case_no: str, seq: int) -> str:
    """The hash of the case's entry before ``seq``; ``GENESIS`` for its first. Entries added
    to the session but not yet written are found too (the query flushes them)."""
    query = select(E.hash).where(E.case_no == case_no, E.seq < seq).order_by(E.seq.desc()).limit(1)
    return session.exec(query).first() or GENESIS


def seal(session: Session, *, now: datetime, margin: timedelta = SEAL_MARGIN) -> AuditSeal | None:
    """Seal the next batch of entries in id order, up to the first one less than ``margin``
    old by its ``at`` (an intake whose workflow fails to start deletes its entry within
    seconds; a sealed entry must never go); None when there is none. Run in a writing
    transaction (``writes=True``).

    Every entry with an id in the batch must have been committed: a later commit inside a
    sealed range would look like tampering. On SQLite the writing transaction already
    excludes every other writer; on PostgreSQL an id is taken at the insert and may commit
    after a larger one, so the table is locked against inserts (SHARE waits for the
    transactions that inserted and holds off new ones) for the few milliseconds this takes.
    """
    if session.get_bind().dialect.name == "postgresql":
        connection = session.connection()
        connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
        connection.exec_driver_sql("LOCK TABLE audit_entry IN SHARE MODE")
    last = session.exec(select(AuditSeal).order_by(AuditSeal.seq.desc()).limit(1)).first()
    after = last.up_to_id if last else 0
    following = select(E.id, E.hash, E.at).where(E.id > after).order_by(E.id).limit(SEAL_BATCH)
    batch = list(takewhile(lambda row: row.at <= now - margin, session.exec(following)))
    if not batch:
        return None
    made = AuditSeal(
        seq=last.seq + 1 if last else 1,
        up_to_id=batch[-1].id,
        root=seal_root(last.root if last else GENESIS, (row.hash for row in batch)),
        sealed_at=now,
    )
    session.add(made)
    return made


_DETAILS = {
    "edited": "its hash does not match its content",
    "chain broken": "its prev_hash is not the hash of the case's entry before it: an entry "
    "was removed or inserted",
}


@dataclass(frozen=True)
class Mismatch:
    problem: str  # edited | chain broken | seal mismatch
    detail: str
    case_no: str | None = None
    seq: int | None = None
    id: int | None = None
    seal: int | None = None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    seals: int
    first_mismatch: Mismatch | None
    last_seal: AuditSeal | None
    """Its root, kept outside the database, shows later whether seals were removed."""


def verify(session: Session) -> Verdict:
    """Check every entry against its hash and its case's chain, and every seal against its
    entries. The first mismatch is the entry-level one with the smallest id (the earliest
    written), else the first seal that does not match. Two streamed queries for the entries,
    one per order, and one for the seals: never a query per row."""
    entries, first = _check_chains(session)
    seals, broken_seal, last_seal = _check_seals(session)
    first = first or broken_seal
    return Verdict(first is None, entries, seals, first, last_seal)


def _check_chains(session: Session) -> tuple[int, Mismatch | None]:
    columns = [getattr(E, name) for name in ("id", *CONTENT, "prev_hash", "hash")]
    rows = session.exec(
        select(*columns).order_by(E.case_no, E.seq).execution_options(yield_per=_STREAM)
    )
    count, first, case_no, expected = 0, None, None, GENESIS
    for row in rows:
        count += 1
        if row.case_no != case_no:
            case_no, expected = row.case_no, GENESIS
        problem = None
        if entry_hash(row._mapping, row.prev_hash) != row.hash:
            problem = "edited"
        elif row.prev_hash != expected:
            problem = "chain broken"
        if problem and (first is None or row.id < first.id):
            first = Mismatch(
                problem, _DETAILS[problem], case_no=row.case_no, seq=row.seq, id=row.id
            )
        expected = row.hash
    return count, first


def _check_seals(session: Session) -> tuple[int, Mismatch | None, AuditSeal | None]:
    last = session.exec(select(AuditSeal).order_by(AuditSeal.seq.desc()).limit(1)).first()
    if last is None:
        return 0, None, None
    entries = iter(
        session.exec(
            select(E.id, E.hash)
            .where(E.id <= last.up_to_id)
            .order_by(E.id)
            .execution_options(yield_per=_STREAM)
        )
    )
    # Up to the last seal read: one made since (on PostgreSQL each statement may see a newer
    # snapshot) would cover entries not read.
    seals = session.exec(
        select(AuditSeal.seq, AuditSeal.up_to_id, AuditSeal.root)
        .where(AuditSeal.seq <= last.seq)
        .order_by(AuditSeal.seq)
        .execution_options(yield_per=_STREAM)
    )
    count, first, root, after = 0, None, GENESIS, 0
    entry = next(entries, None)
    for seal_row in seals:
        count += 1
        hashes = []
        while entry is not None and entry.id <= seal_row.up_to_id:
            hashes.append(entry.hash)
            entry = next(entries, None)
        intact = seal_row.seq == count and seal_row.up_to_id > after
        if first is None and not (intact and seal_root(root, hashes) == seal_row.root):
            first = Mismatch(
                "seal mismatch",
                f"the entries with id in ({after}, {seal_row.up_to_id}] no longer match seal "
                f"{seal_row.seq}: an entry was deleted, added or its hash rewritten",
                seal=seal_row.seq,
            )
        root, after = seal_row.root, seal_row.up_to_id
    return count, first, last
