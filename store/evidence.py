"""The audit trail's hash chains, heads and seals in the database (``domain.evidence`` explains
the chains and seals): the hash of a new entry's predecessor, each case's head, sealing, and
verifying everything.

What shows what, to someone who changes the database by hand:

- an entry edited: its hash no longer matches its content; edited with its hash made again:
  the case's next entry no longer follows it (its ``prev_hash``), or, for the newest entry, the
  case's head names another hash;
- an entry removed from the middle of a trail, or inserted: the chain of its case breaks;
- the newest entries of a case removed (within the seal margin or after it), or its whole
  trail: its head (``case_head``, written in the transaction that appends the entry) names an
  entry that is no longer there, by case, seq and id; a head removed, or entries added past
  it, shows too;
- an entry removed and its case's head set back to the entry before it, both by hand: nothing
  left in the trail shows it before the entry is sealed (whoever may write both tables can make
  them agree); once it is sealed, the seal that covers it no longer matches (named by seal and
  ids, not by case: a seal is one hash). The seal margin (``SEAL_MARGIN``) is that exposure, and
  the last seal's root kept outside the system is what shows seals rewritten in turn;
- ids are never reused (SQLite ``AUTOINCREMENT``, PostgreSQL's sequence), so an entry written
  after a deletion never takes the place of the one deleted inside a sealed range.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from itertools import takewhile
from typing import Any

from sqlalchemy import exists, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from domain.cases import AuditEntry
from domain.evidence import CONTENT, GENESIS, content_of, entry_hash, seal_root
from domain.payroll import payment_line
from store.tables import AuditEntryRecord, AuditSeal, CaseHead

SEAL_MARGIN = timedelta(minutes=5)
SEAL_BATCH = 10_000
"""At most this many entries per seal: each seal is one short transaction."""
_STREAM = 5_000
"""Rows fetched at a time while verifying (a server-side cursor on PostgreSQL)."""

E = AuditEntryRecord
H = CaseHead
_APPEND = insert(E.__table__).returning(E.__table__.c.id)
"""An entry's row, its id returned (the head needs it): on the table, no ORM bookkeeping."""
NAMED = 100
"""At most this many problems are named in a verdict (the earliest); all are counted."""


def previous_hash(session: Session, *, case_no: str, seq: int) -> str:
    """The hash of the case's entry before ``seq``; ``GENESIS`` for its first."""
    query = select(E.hash).where(E.case_no == case_no, E.seq < seq).order_by(E.seq.desc()).limit(1)
    return session.exec(query).first() or GENESIS


def advance_head(session: Session, *, case_no: str, seq: int, hash: str, entry_id: int) -> None:
    """Make the entry (written, with its id) its case's head, unless the head is already at a
    later seq. One statement: the case's first entry creates the head."""
    params = {"case_no": case_no, "seq": seq, "hash": hash, "entry_id": entry_id}
    session.exec(_advance(session.get_bind().dialect.name), params=params)


@cache
def _advance(dialect: str) -> Any:
    """``advance_head``'s statement, made once (on the table: no ORM bookkeeping)."""
    heads = H.__table__
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[dialect](heads)
    return insert.on_conflict_do_update(
        index_elements=["case_no"],
        set_={name: insert.excluded[name] for name in ("seq", "hash", "entry_id")},
        where=heads.c.seq < insert.excluded.seq,
    )


def append_to_trails(
    session: Session, trails: list[str], entry_for: Callable[[str, int], AuditEntry]
) -> None:
    """One entry more at the end of each of many trails (a payroll part's lines), each
    ``entry_for(trail, seq)`` chained to its trail's head and made its head: a few statements
    for a chunk of trails, not three for each."""
    upsert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    for n in range(0, len(trails), CHUNK):
        chunk = trails[n : n + CHUNK]
        heads = {
            h.case_no: (h.seq, h.hash) for h in session.exec(select(H).where(H.case_no.in_(chunk)))
        }
        rows = []
        for trail in chunk:
            seq, prev_hash = heads.get(trail, (-1, GENESIS))
            content = content_of(entry_for(trail, seq + 1))
            rows.append(content | {"prev_hash": prev_hash, "hash": entry_hash(content, prev_hash)})
        written = session.execute(insert(E).returning(E.id, E.case_no, E.seq, E.hash), rows).all()
        statement = upsert(H).values(
            [
                {"case_no": w.case_no, "seq": w.seq, "hash": w.hash, "entry_id": w.id}
                for w in written
            ]
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["case_no"],
                set_={
                    "seq": statement.excluded.seq,
                    "hash": statement.excluded.hash,
                    "entry_id": statement.excluded.entry_id,
                },
                where=H.seq < statement.excluded.seq,
            )  # fmt: skip
        )


def month_on_trail(session: Session, *, recipient_no: str, **line: Any) -> None:
    """One month of a household on its trail (``domain.payroll.payment_line``'s fields)."""
    append_to_trails(
        session,
        [recipient_no],
        lambda trail, seq: payment_line(recipient_no=trail, seq=seq, **line),
    )


CHUNK = 2_000
"""Trails appended to per round of statements (each a bound parameter or four)."""


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
    problem: str
    """edited | chain broken | newest entry missing | head mismatch | no head | seal mismatch"""
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
    mismatches: list[Mismatch]
    """The earliest ``NAMED`` problems: entries by id (the earliest written first), then seals."""
    mismatch_count: int
    """Every problem found, named or not."""
    last_seal: AuditSeal | None
    """Its root, kept outside the database, shows later whether seals were removed."""

    @property
    def first_mismatch(self) -> Mismatch | None:
        return self.mismatches[0] if self.mismatches else None


def _order(found: Mismatch) -> tuple:
    if found.seal is not None:
        return (1, found.seal, 0, "", 0)
    return (0, 0, found.id if found.id is not None else 2**63, found.case_no or "", found.seq or 0)


@dataclass
class _Found:
    """Every problem counted; the earliest ``limit`` kept (memory bounded however many)."""

    limit: int
    count: int = 0
    kept: list[Mismatch] = field(default_factory=list)

    def add(self, problem: str, detail: str, **where) -> None:
        self.count += 1
        self.kept.append(Mismatch(problem, detail, **where))
        if len(self.kept) >= 2 * self.limit:
            self.kept = self.earliest()

    def earliest(self) -> list[Mismatch]:
        return sorted(self.kept, key=_order)[: self.limit]


def verify(session: Session, *, named: int = NAMED) -> Verdict:
    """Check every entry against its hash, its case's chain and its case's head, and every
    seal against its entries; every problem is counted, and the earliest ``named`` are named,
    by case, seq and id where they can be known. Two streamed queries for the entries (one per
    order), one for heads left without a trail, one for the seals: never a query per row. On
    PostgreSQL, in one snapshot: an entry appended between two queries would otherwise look
    like a head ahead of its trail."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    found = _Found(named)
    entries = _check_chains(session, found)
    _check_heads_without_trail(session, found)
    seals, last_seal = _check_seals(session, found)
    return Verdict(found.count == 0, entries, seals, found.earliest(), found.count, last_seal)


def _check_chains(session: Session, found: _Found) -> int:
    columns = [getattr(E, name) for name in ("id", *CONTENT, "prev_hash", "hash")]
    head = [H.seq.label("head_seq"), H.hash.label("head_hash"), H.entry_id.label("head_id")]
    rows = session.exec(
        select(*columns, *head)
        .outerjoin(H, H.case_no == E.case_no)
        .order_by(E.case_no, E.seq)
        .execution_options(yield_per=_STREAM)
    )
    count, case_no, expected, last, past_head = 0, None, GENESIS, None, None
    for row in rows:
        count += 1
        if row.case_no != case_no:
            if last is not None:
                _check_head(found, last, past_head)
            case_no, expected, past_head = row.case_no, GENESIS, None
        problem = None
        if entry_hash(row._mapping, row.prev_hash) != row.hash:
            problem = "edited"
        elif row.prev_hash != expected:
            problem = "chain broken"
        if problem:
            found.add(problem, _DETAILS[problem], case_no=row.case_no, seq=row.seq, id=row.id)
        if past_head is None and row.head_seq is not None and row.seq > row.head_seq:
            past_head = row
        expected, last = row.hash, row
    if last is not None:
        _check_head(found, last, past_head)
    return count


def _check_head(found: _Found, last, past_head) -> None:
    """The case's newest entry (``last``) against its head; ``past_head`` is its first entry
    after the head's seq, if any."""
    where = {"case_no": last.case_no}
    if last.head_seq is None:
        found.add(
            "no head",
            f"the case has entries up to seq {last.seq} but no head: its head was removed, or "
            "its trail was written outside the system",
            **where, seq=last.seq, id=last.id,
        )  # fmt: skip
    elif last.head_seq > last.seq:
        found.add(
            "newest entry missing",
            f"its head names seq {last.head_seq} (id {last.head_id}) as the case's newest "
            f"entry, but its trail ends at seq {last.seq}: the entries after it were deleted",
            **where, seq=last.head_seq, id=last.head_id,
        )  # fmt: skip
    elif past_head is not None:
        found.add(
            "head mismatch",
            f"its head names seq {last.head_seq} as the case's newest entry, but the trail "
            f"goes on to seq {last.seq}: entries were added outside the system, or the head "
            "was set back",
            **where, seq=past_head.seq, id=past_head.id,
        )  # fmt: skip
    elif (last.head_hash, last.head_id) != (last.hash, last.id):
        found.add(
            "head mismatch",
            f"the case's newest entry is not the one its head names (id {last.head_id}, "
            "hash as written): it was replaced or written again",
            **where, seq=last.seq, id=last.id,
        )  # fmt: skip


def _check_heads_without_trail(session: Session, found: _Found) -> None:
    rows = session.exec(
        select(H.case_no, H.seq, H.entry_id)
        .where(~exists().where(E.case_no == H.case_no))
        .order_by(H.entry_id)
        .execution_options(yield_per=_STREAM)
    )
    for row in rows:
        found.add(
            "newest entry missing",
            f"its head names seq {row.seq} (id {row.entry_id}) as the case's newest entry, "
            "but no entry of the case is left: its whole trail was deleted",
            case_no=row.case_no, seq=row.seq, id=row.entry_id,
        )  # fmt: skip


def _check_seals(session: Session, found: _Found) -> tuple[int, AuditSeal | None]:
    last = session.exec(select(AuditSeal).order_by(AuditSeal.seq.desc()).limit(1)).first()
    if last is None:
        return 0, None
    entries = iter(
        session.exec(
            select(E.id, E.hash)
            .where(E.id <= last.up_to_id)
            .order_by(E.id)
            .execution_options(yield_per=_STREAM)
        )
    )
    # Up to the last seal read: one made since (were the statements not in one snapshot)
    # would cover entries not read.
    seals = session.exec(
        select(AuditSeal.seq, AuditSeal.up_to_id, AuditSeal.root)
        .where(AuditSeal.seq <= last.seq)
        .order_by(AuditSeal.seq)
        .execution_options(yield_per=_STREAM)
    )
    count, root, after = 0, GENESIS, 0
    entry = next(entries, None)
    for seal_row in seals:
        count += 1
        hashes = []
        while entry is not None and entry.id <= seal_row.up_to_id:
            hashes.append(entry.hash)
            entry = next(entries, None)
        intact = seal_row.seq == count and seal_row.up_to_id > after
        if not (intact and seal_root(root, hashes) == seal_row.root):
            found.add(
                "seal mismatch",
                f"the entries with id in ({after}, {seal_row.up_to_id}] no longer match seal "
                f"{seal_row.seq}: an entry was deleted, added or its hash rewritten",
                seal=seal_row.seq,
            )
        root, after = seal_row.root, seal_row.up_to_id
    return count, last


def append_entry(session: Session, entry: AuditEntry) -> None:
    """Append one entry to a trail (a case's, a recipient household's), chained to its entry
    before it (``domain.evidence``), and make it the trail's head. A trail's entries are
    appended in seq order, each in the transaction that writes its step."""
    content = content_of(entry)
    prev_hash = previous_hash(session, case_no=entry.case_no, seq=entry.seq)
    hashed = entry_hash(content, prev_hash)
    params = content | {"prev_hash": prev_hash, "hash": hashed}
    entry_id = session.exec(_APPEND, params=params).scalar_one()
    advance_head(session, case_no=entry.case_no, seq=entry.seq, hash=hashed, entry_id=entry_id)
