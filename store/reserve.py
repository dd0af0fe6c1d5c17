"""The townships' emergency reserves (临时救助储备金) and their ledger.

Every function works inside the caller's transaction (``session_scope(url, writes=True)`` or
``Database.write``) and writes nothing else. Every writer is keyed: a second call with a key
already on the ledger writes nothing and answers as the first did, so a retried activity or
request cannot move money twice. A key names one entry for good: reused for a different
entry, it is a ``Conflict``.

Why no interleaving can over-spend a reserve:

- the reserve's row is locked first (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the
  writing transaction already holds the database's write lock from ``BEGIN IMMEDIATE``), so
  the writers of one township run one after another and each sees the last one's entry;
- a hold takes its money with one conditional UPDATE (``held = held + amount`` only where
  ``balance - held >= amount``), whose outcome is the whole decision;
- the table's CHECKs (``held >= 0``, ``balance >= held``) refuse any row that would be
  over-spent, whatever code wrote it, and ``reserve_entry.closes`` is unique, so a hold is
  settled or released once.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import exists, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from domain.errors import Conflict, InvalidData, NotFound
from domain.reserve import DEFAULT_MINIMUM, EntryKind, ReserveState, to_fen, to_yuan
from domain.sealing import KeyRing
from store.hashed_ids import look_up, payout_rows
from store.pages import Paged, paged
from store.tables import EmergencyPayout, ReserveEntry, TownshipReserve, TownshipRow

SYSTEM_USER = "system"
"""``by_user`` of the entries the payment process writes (hold, settle, release)."""


def reserve_of(session: Session, *, township: str) -> ReserveState:
    """The township's reserve as it stands (``NotFound``: no such township, or no reserve)."""
    row = session.exec(
        select(
            TownshipReserve.balance_fen, TownshipReserve.held_fen, TownshipReserve.minimum_fen
        ).where(TownshipReserve.township == township)
    ).first()
    if row is None:
        raise NotFound(f"township {township} has no emergency reserve")
    return _state(township, *row)


def open_reserve(
    session: Session, *, township: str, minimum: Decimal = DEFAULT_MINIMUM, at: datetime
) -> bool:
    """Give a township the admin added after the reserves were seeded a reserve at its
    minimum: the opening top-up on the ledger (``seed_key``), as migration 0003 seeded the
    first ones, so its first emergency need not wait for funds. True when it was opened now;
    nothing changes if it has one already."""
    minimum_fen = to_fen(minimum, field="minimum")
    if minimum < DEFAULT_MINIMUM:
        raise InvalidData(
            "minimum", f"a township's reserve is at least ¥{DEFAULT_MINIMUM}, not ¥{minimum}"
        )
    if session.get(TownshipRow, township) is None:
        raise NotFound(f"no township {township}")
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    opened = session.exec(
        insert(TownshipReserve)
        .values(
            township=township, balance_fen=0, held_fen=0, minimum_fen=minimum_fen, updated_at=at
        )
        .on_conflict_do_nothing(index_elements=["township"])
        .returning(TownshipReserve.township)
    ).first()
    if opened:
        top_up(
            session,
            township=township,
            amount=to_yuan(minimum_fen),
            key=seed_key(township),
            note=OPENING_NOTE,
            by=SYSTEM_USER,
            at=at,
        )
    return opened is not None


OPENING_NOTE = "opening balance (临时救助储备金)"


def seed_key(township: str) -> str:
    """The ledger key of a township's opening top-up (the migration's and the admin's alike)."""
    return f"seed:{township}"


def top_up(
    session: Session,
    *,
    township: str,
    amount: Decimal,
    key: str,
    note: str,
    by: str,
    at: datetime,
) -> ReserveState:
    """Put ¥``amount`` into the township's reserve; the reserve after it."""
    amount_fen = to_fen(amount)
    minimum_fen = _lock(session, township)
    if done := _keyed(session, key, EntryKind.top_up, township=township, amount_fen=amount_fen):
        return _after(done, minimum_fen)
    balance_fen, held_fen = _change(session, township, at, balance=amount_fen)
    entry = _append(
        session,
        key=key,
        township=township,
        kind=EntryKind.top_up,
        amount_fen=amount_fen,
        note=note,
        by=by,
        at=at,
        balance_after_fen=balance_fen,
        held_after_fen=held_fen,
    )
    return _after(entry, minimum_fen)


def hold(
    session: Session, *, township: str, case_no: str, amount: Decimal, key: str, at: datetime
) -> bool:
    """Hold ¥``amount`` of the township's reserve for an emergency payment of the case: True
    when it is now held (or already was, under this key); False, with nothing written, when
    what is available cannot cover it."""
    amount_fen = to_fen(amount)
    _lock(session, township)
    if _keyed(
        session, key, EntryKind.hold, township=township, amount_fen=amount_fen, case_no=case_no
    ):
        return True
    # The one statement that decides: it holds the money only where it is available.
    taken = session.exec(
        update(TownshipReserve)
        .where(
            TownshipReserve.township == township,
            TownshipReserve.balance_fen - TownshipReserve.held_fen >= amount_fen,
        )
        .values(held_fen=TownshipReserve.held_fen + amount_fen, updated_at=at)
        .returning(TownshipReserve.balance_fen, TownshipReserve.held_fen)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is None:  # no row updated: the reserve cannot cover it
        return False
    _append(
        session,
        key=key,
        township=township,
        kind=EntryKind.hold,
        amount_fen=amount_fen,
        case_no=case_no,
        note=f"held for an emergency payment of case {case_no}",
        by=SYSTEM_USER,
        at=at,
        balance_after_fen=taken.balance_fen,
        held_after_fen=taken.held_fen,
    )
    return True


def settle(
    session: Session,
    *,
    hold_key: str,
    key: str,
    at: datetime,
    members: list[str],
    cause: str,
    ring: KeyRing,
) -> ReserveState:
    """The held payment went out: its money leaves the reserve, and each household member is
    recorded as paid (for the repeat rule, ``recent_payout``; by their ID numbers' keyed
    hashes, ``store.hashed_ids``), in this one transaction."""
    members = list(dict.fromkeys(members))
    if not members or not all(isinstance(m, str) and m for m in members):
        raise InvalidData("members", "an emergency payment is recorded against its household")
    if not cause:
        raise InvalidData("cause", "an emergency payment is recorded with its cause")
    held, minimum_fen = _open_hold(session, hold_key)
    if done := _keyed(session, key, EntryKind.settle, township=held.township, closes=hold_key):
        return _after(done, minimum_fen)
    _refuse_if_closed(session, hold_key)
    balance_fen, held_fen = _change(
        session, held.township, at, balance=-held.amount_fen, held=-held.amount_fen
    )
    entry = _append(
        session,
        key=key,
        township=held.township,
        kind=EntryKind.settle,
        amount_fen=held.amount_fen,
        case_no=held.case_no,
        closes=hold_key,
        note=f"emergency payment made ({cause}) to a household of {len(members)}",
        by=SYSTEM_USER,
        at=at,
        balance_after_fen=balance_fen,
        held_after_fen=held_fen,
    )
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    session.exec(
        insert(EmergencyPayout)
        .values(
            payout_rows(ring, id_numbers=members, case_no=held.case_no, cause=cause, paid_at=at)
        )
        # A second payment of one case to the same person keeps the first's record: the
        # transfer has been made, and refusing to record it would lose money.
        .on_conflict_do_nothing(index_elements=["id_number_hash", "case_no"])
    )
    return _after(entry, minimum_fen)


def release(session: Session, *, hold_key: str, key: str, at: datetime) -> ReserveState:
    """The held payment did not go out (the payment system refused the transfer): the money
    held for it is available again."""
    held, minimum_fen = _open_hold(session, hold_key)
    if done := _keyed(session, key, EntryKind.release, township=held.township, closes=hold_key):
        return _after(done, minimum_fen)
    _refuse_if_closed(session, hold_key)
    balance_fen, held_fen = _change(session, held.township, at, held=-held.amount_fen)
    entry = _append(
        session,
        key=key,
        township=held.township,
        kind=EntryKind.release,
        amount_fen=held.amount_fen,
        case_no=held.case_no,
        closes=hold_key,
        note=f"hold released: the payment of case {held.case_no} was not made",
        by=SYSTEM_USER,
        at=at,
        balance_after_fen=balance_fen,
        held_after_fen=held_fen,
    )
    return _after(entry, minimum_fen)


def entry(session: Session, *, key: str) -> ReserveEntry:
    """The ledger entry written under ``key`` (``NotFound`` when none was)."""
    found = session.exec(select(ReserveEntry).where(ReserveEntry.key == key)).first()
    if found is None:
        raise NotFound(f"no reserve entry {key}")
    return found


def open_holds(session: Session, case_no: str) -> list[str]:
    """The keys of the case's holds not yet settled or released, oldest first."""
    closer = aliased(ReserveEntry)
    return list(
        session.exec(
            select(ReserveEntry.key)
            .where(
                ReserveEntry.case_no == case_no,
                ReserveEntry.kind == EntryKind.hold,
                ~exists().where(closer.closes == ReserveEntry.key),
            )
            .order_by(ReserveEntry.id)
        )
    )


def released(session: Session, *, hold: str) -> bool:
    """Whether the hold was released (its payment not made)."""
    return (
        session.exec(
            select(ReserveEntry.key).where(
                ReserveEntry.closes == hold, ReserveEntry.kind == EntryKind.release
            )
        ).first()
        is not None
    )


def ledger(session: Session, *, township: str, page: int = 1, page_size: int = 50) -> Paged:
    """A page of the township's ledger (``ReserveEntry``), newest entry first."""
    reserve_of(session, township=township)
    query = select(ReserveEntry).where(ReserveEntry.township == township)
    return paged(session, query, order_by=(ReserveEntry.id.desc(),), page=page, page_size=page_size)


def recent_payout(
    session: Session, *, id_numbers: list[str], since: datetime, ring: KeyRing
) -> str | None:
    """The case of the latest emergency payment to any of these people paid after ``since``,
    whatever its cause, or None: a second payment to a family within the period is the
    district's 一事一议 (a fire, then an accident, is still the family paid twice). The people
    are found by their numbers' keyed hashes under every key of the ring."""
    if not id_numbers:
        return None
    return session.exec(
        select(EmergencyPayout.case_no)
        .where(
            EmergencyPayout.id_number_hash.in_(look_up(ring, id_numbers)),
            EmergencyPayout.paid_at > since,
        )
        .order_by(EmergencyPayout.paid_at.desc(), EmergencyPayout.case_no)
        .limit(1)
    ).first()


def _state(township: str, balance_fen: int, held_fen: int, minimum_fen: int) -> ReserveState:
    return ReserveState(
        township=township,
        balance=to_yuan(balance_fen),
        held=to_yuan(held_fen),
        minimum=to_yuan(minimum_fen),
    )


def _after(entry: ReserveEntry, minimum_fen: int) -> ReserveState:
    """The reserve as the entry left it: a retry answers exactly as the first call did."""
    return _state(entry.township, entry.balance_after_fen, entry.held_after_fen, minimum_fen)


def _lock(session: Session, township: str) -> int:
    """Lock the township's reserve row until the transaction ends; its minimum in fen."""
    minimum_fen = session.exec(
        select(TownshipReserve.minimum_fen)
        .where(TownshipReserve.township == township)
        .with_for_update()
    ).first()
    if minimum_fen is None:
        raise NotFound(f"township {township} has no emergency reserve")
    return minimum_fen


def _keyed(session: Session, key: str, kind: EntryKind, **expected) -> ReserveEntry | None:
    """The entry already written under ``key`` (None if there is none), if it is the one the
    call would write; ``Conflict`` if the key was used for something else."""
    if not key:
        raise InvalidData("key", "every reserve entry needs an idempotency key")
    entry = session.exec(select(ReserveEntry).where(ReserveEntry.key == key)).first()
    if entry is None:
        return None
    if entry.kind != kind or any(getattr(entry, k) != v for k, v in expected.items()):
        raise Conflict(f"key {key} is already on the ledger for another {entry.kind} entry")
    return entry


def _open_hold(session: Session, hold_key: str) -> tuple[ReserveEntry, int]:
    """The hold entry named by ``hold_key``, with its township's reserve locked."""
    held = session.exec(
        select(ReserveEntry).where(
            ReserveEntry.key == hold_key, ReserveEntry.kind == EntryKind.hold
        )
    ).first()
    if held is None:
        raise NotFound(f"no hold {hold_key} on any reserve's ledger")
    return held, _lock(session, held.township)


def _refuse_if_closed(session: Session, hold_key: str) -> None:
    closed = session.exec(select(ReserveEntry).where(ReserveEntry.closes == hold_key)).first()
    if closed is not None:
        raise Conflict(
            f"hold {hold_key} was already {'settled' if closed.kind == EntryKind.settle else 'released'}"
            f" (entry {closed.key})"
        )


def _change(
    session: Session, township: str, at: datetime, *, balance: int = 0, held: int = 0
) -> tuple[int, int]:
    """Add to the reserve's balance and held money (in fen); both as they are now. The
    table's CHECKs refuse a change that would leave more held than there is."""
    return session.exec(
        update(TownshipReserve)
        .where(TownshipReserve.township == township)
        .values(
            balance_fen=TownshipReserve.balance_fen + balance,
            held_fen=TownshipReserve.held_fen + held,
            updated_at=at,
        )
        .returning(TownshipReserve.balance_fen, TownshipReserve.held_fen)
        .execution_options(synchronize_session=False)
    ).one()


def _append(
    session: Session,
    *,
    key: str,
    township: str,
    kind: EntryKind,
    amount_fen: int,
    note: str,
    by: str,
    at: datetime,
    balance_after_fen: int,
    held_after_fen: int,
    case_no: str | None = None,
    closes: str | None = None,
) -> ReserveEntry:
    entry = ReserveEntry(
        key=key,
        township=township,
        kind=kind,
        amount_fen=amount_fen,
        case_no=case_no,
        closes=closes,
        note=note,
        by_user=by,
        at=at,
        balance_after_fen=balance_after_fen,
        held_after_fen=held_after_fen,
    )
    session.add(entry)
    try:
        session.flush()
    except IntegrityError as clash:
        # Only a key already used in another township's ledger (whose writers this one does not
        # wait for) gets here; the caller's transaction is rolled back with the error.
        raise Conflict(f"key {key} is already on the ledger for another entry") from clash
    return entry
