"""Writing and reading case records. Every writer is idempotent: a retried activity or request
leaves the same rows as one that ran once."""

from dataclasses import asdict
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import and_, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete, func, select, update

from domain.application import first_payment_key
from domain.cases import CLOSED_STAGES, Actor, AuditEntry, CaseStart, CaseView, Stage
from domain.contracts import StaffNotice, Transition
from domain.emergency import CLOSED as EMERGENCY_CLOSED
from domain.emergency import (
    EmergencyStage,
    EmergencyStart,
    EmergencyView,
    release_key,
    settlement_key,
)
from domain.errors import Conflict, NotFound
from domain.halting import (
    BankTransfer,
    close,
    halt,
    reconcile,
    record_reconciliation,
    releases_claim,
)
from domain.identity import mask_id_number
from domain.months import Month
from domain.payroll import ItemStatus
from domain.recipients import STANDING_TYPES
from domain.reserve import ReserveState
from domain.reviews import ReviewView
from domain.sealing import KeyRing
from store import reserve
from store.evidence import append_entry, month_on_trail
from store.hashed_ids import claim_rows, look_up
from store.jurisdiction import TABLES, CaseKindName
from store.review_rows import write_review
from store.sealed import open_start, seal_start
from store.tables import (
    NOT_IN_VIEW,
    AuditEntryRecord,
    CaseCounter,
    CaseHead,
    CaseRecord,
    EmergencyRecord,
    HouseholdClaim,
    PayrollItem,
    RecipientRecord,
    StaffNotification,
)

_PROJECTIONS = {
    CaseView: (CaseRecord, TypeAdapter(CaseView)),
    EmergencyView: (EmergencyRecord, TypeAdapter(EmergencyView)),
}
"""Each kind of case: the table of its projection, and how its view becomes JSON."""
_ADAPTERS = dict(_PROJECTIONS.values())
_STARTS = {kind: TypeAdapter(kind) for kind in (CaseStart, EmergencyStart)}


class DuplicateApplication(Exception):
    """The household has an open case of the type: ``case_no`` (None while it is being
    accepted by a transaction that has not yet committed)."""

    def __init__(self, case_no: str | None) -> None:
        super().__init__(case_no)
        self.case_no = case_no


def next_case_no(session: Session, *, district: str, year: int) -> str:
    """案件号: district code, year, and a sequence within the year.

    One statement that creates the year's counter or bumps it: two first cases of a year
    cannot both create it.
    """
    statement = (
        _insert(session)(CaseCounter)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": CaseCounter.last + 1})
        .returning(CaseCounter.last)
    )
    last = session.exec(statement).scalar_one()
    return f"{district}-{year}-{last:06d}"


def open_case_for(
    session: Session, *, assistance_type: str, id_numbers: list[str], ring: KeyRing
) -> str | None:
    """The open case of the type that claims one of these people (found by their numbers'
    keyed hashes under every key of the ring: ``store.hashed_ids``)."""
    claim = session.exec(
        select(HouseholdClaim).where(
            HouseholdClaim.assistance_type == assistance_type,
            HouseholdClaim.id_number_hash.in_(look_up(ring, id_numbers)),
        )
    ).first()
    return claim.case_no if claim else None


def claim_household(
    session: Session,
    *,
    assistance_type: str,
    id_numbers: list[str],
    district: str,
    year: int,
    ring: KeyRing,
) -> str:
    """Claim everyone in the household for an open case of this type; the new case's number.

    ``DuplicateApplication`` names the open case that already claims one of them. The claim's
    primary key settles a race between two transactions: the second fails at the insert, after
    the first has committed (PostgreSQL), and then finds the first's case. Each person is
    claimed under every key of the ring, so two processes that share a key collide even while
    a rotation makes them hash with different current keys (``store.hashed_ids``).
    """
    found = {"assistance_type": assistance_type, "id_numbers": id_numbers, "ring": ring}
    if existing := open_case_for(session, **found):
        raise DuplicateApplication(existing)
    case_no = next_case_no(session, district=district, year=year)
    session.add_all(
        HouseholdClaim(**row)
        for row in claim_rows(
            ring, assistance_type=assistance_type, id_numbers=id_numbers, case_no=case_no
        )
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise DuplicateApplication(open_case_for(session, **found)) from None
    return case_no


def write_new_case(
    session: Session,
    *,
    view: CaseView | EmergencyView,
    start: CaseStart | EmergencyStart,
    entry: AuditEntry,
    ring: KeyRing,
) -> None:
    """The case's first record, with what was accepted (sealed: to start its workflow again
    if the start is lost), and the first line of its audit trail (受理)."""
    accepted = _STARTS[type(start)].dump_json(start).decode()
    _write_view(
        session,
        view,
        # Lists show it masked and nothing looks a case up by it: the full number is kept
        # only in the sealed intake.
        applicant_id_number=mask_id_number(start.applicant.id_number),
        start=seal_start(accepted, case_no=start.case_no, ring=ring),
    )
    append_entry(session, entry)


def record_of(
    session: Session, *, kind: CaseKindName, case_no: str
) -> CaseRecord | EmergencyRecord | None:
    """The record of the case of this kind and number (None: there is none)."""
    return session.get(TABLES[kind], case_no)


def start_of(
    row: CaseRecord | EmergencyRecord, *, ring: KeyRing
) -> CaseStart | EmergencyStart | None:
    """What was accepted, as the workflow's input (None for a case accepted before
    migration 0005_supervision added the column)."""
    if not row.start:
        return None
    kind = CaseStart if isinstance(row, CaseRecord) else EmergencyStart
    return _STARTS[kind].validate_json(open_start(row.start, case_no=row.case_no, ring=ring))


def discard_case(session: Session, *, case_no: str) -> None:
    """Undo ``claim_household`` and ``write_new_case`` when the workflow could not be started."""
    session.exec(delete(HouseholdClaim).where(HouseholdClaim.case_no == case_no))
    session.exec(delete(AuditEntryRecord).where(AuditEntryRecord.case_no == case_no))
    session.exec(delete(CaseHead).where(CaseHead.case_no == case_no))
    for table in (CaseRecord, EmergencyRecord):
        session.exec(delete(table).where(table.case_no == case_no))


def apply_transition(session: Session, transition: Transition) -> None:
    """A step's write, in SQL statements without the ORM's unit of work (the hot path: one
    a step): the projection unless a newer version is on record, the audit entries not yet
    appended, the family's claim released once the case ends, the first month paid."""
    view = transition.view
    if isinstance(view, ReviewView):
        write_review(session, view)
    else:
        _write_newer(session, view)
    seqs = [e.seq for e in transition.entries]
    written = seqs and set(
        session.exec(
            select(AuditEntryRecord.seq).where(
                AuditEntryRecord.case_no == view.case_no, AuditEntryRecord.seq.in_(seqs)
            )
        )
    )
    for entry in transition.entries:
        if entry.seq not in written:
            append_entry(session, entry)
    if not isinstance(view, ReviewView) and releases_claim(view):
        session.exec(delete(HouseholdClaim).where(HouseholdClaim.case_no == view.case_no))
    if isinstance(view, CaseView) and view.assistance_type in STANDING_TYPES:
        _first_month_paid(session, view)


def mark_registered(session: Session, *, case_no: str, recipient_no: str) -> None:
    """A case approved before its household entered the register at approval (patch
    ``register-household``) names its household now, and its paid approval is that month's
    payroll item. The view's version stays: its closed workflow writes nothing more."""
    row = session.get(CaseRecord, case_no)
    view = view_of(row)
    view.recipient_no = recipient_no
    _write_view(session, view, applicant_id_number=row.applicant_id_number, start=row.start)
    _first_month_paid(session, view)


def _first_month_paid(session: Session, view: CaseView) -> None:
    """The approval's first payment is its household's payroll item of that month: paid once
    the transfer settles (under whichever attempt's key)."""
    settled = [p for p in view.payments if p.status == "settled"]
    if not (view.recipient_no and settled and view.decided_at):
        return
    paid = settled[-1]
    month = str(Month.at(view.decided_at))
    made = session.exec(
        update(PayrollItem)
        .where(
            PayrollItem.recipient_no == view.recipient_no,
            PayrollItem.month == month,
            PayrollItem.status != ItemStatus.paid,
        )
        .values(
            status=ItemStatus.paid,
            transfer_id=paid.transfer_id,
            decided_at=paid.at,
            account=paid.account,
            key=first_payment_key(view.case_no, paid.attempt),
        )
    )
    if made.rowcount:  # once: the item was not paid before
        household = session.get(RecipientRecord, view.recipient_no)
        month_on_trail(
            session, recipient_no=view.recipient_no, at=paid.at, standing=household.status,
            month=month, amount=paid.amount, paid=True, account=paid.account,
            transfer_id=paid.transfer_id, reason="",
        )  # fmt: skip


def halt_case(session: Session, *, case_no: str, status: str, at: datetime) -> bool:
    """Mark a case whose workflow the engine stopped (``status``: terminated, failed, …) as
    halted: never shown as open again, its family's claim kept until its payments are
    reconciled and a supervisor closes it, the step on the audit trail. False when the case
    had nothing left to do (or is halted already)."""
    row = _locked(session, case_no)
    if row is None or not session.exec(select(type(row).case_no).where(live(type(row)))).first():
        return False
    view = view_of(row)
    entry = halt(view, status=status, at=at, seq=last_seq(session, case_no=case_no) + 1)
    apply_transition(session, Transition(view=view, entries=[entry]))
    return True


def live_among(session: Session, *, case_nos: list[str]) -> list[str]:
    """Those of the cases whose record shows work left (``live``)."""
    if not case_nos:
        return []
    return [
        case_no
        for table in (CaseRecord, EmergencyRecord)
        for case_no in session.exec(
            select(table.case_no).where(table.case_no.in_(case_nos), live(table))
        )
    ]


def either_record(session: Session, *, case_no: str) -> CaseRecord | EmergencyRecord | None:
    """The application's or emergency's record with this number."""
    return session.get(CaseRecord, case_no) or session.get(EmergencyRecord, case_no)


def live(table: type[CaseRecord] | type[EmergencyRecord]) -> Any:
    """Where a record's workflow still had something to do: an open stage, an approval not
    yet paid, a refusal not yet sent (a workflow that ends there ends abnormally)."""
    if table is EmergencyRecord:
        return EmergencyRecord.stage.not_in([s.value for s in EMERGENCY_CLOSED])
    return or_(
        CaseRecord.stage.not_in([s.value for s in CLOSED_STAGES]),
        and_(CaseRecord.stage == Stage.approved, CaseRecord.first_payment_at.is_(None)),
        and_(CaseRecord.stage == Stage.refused, CaseRecord.refusal_notified_at.is_(None)),
    )


def last_seq(session: Session, *, case_no: str) -> int:
    """The seq of the case's newest audit entry (-1: none)."""
    last = session.exec(
        select(func.max(AuditEntryRecord.seq)).where(AuditEntryRecord.case_no == case_no)
    ).one()
    return -1 if last is None else last


def halted_unreconciled(session: Session, *, halted_before: datetime) -> list[str]:
    """Halted cases whose payments are not yet reconciled, halted before ``halted_before``."""
    return [
        case_no
        for table in (CaseRecord, EmergencyRecord)
        for case_no in session.exec(
            select(table.case_no).where(
                table.stage == Stage.halted,
                table.reconciled_at.is_(None),
                table.closed_at <= halted_before,
            )
        )
    ]


def reconcile_case(
    session: Session,
    *,
    case_no: str,
    transfers: list[BankTransfer],
    ring: KeyRing,
    at: datetime,
) -> bool:
    """Record what the bank paid under a halted case's keys, settle or release its reserve
    holds, and mark it reconciled, in one transaction; False when it was reconciled already
    (or is no longer halted)."""
    row = _locked(session, case_no)
    if row is None or row.stage != Stage.halted or row.reconciled_at is not None:
        return False
    view = view_of(row)
    result = reconcile(view, transfers=transfers, open_holds=reserve.open_holds(session, case_no))
    if result.settle:
        start = start_of(row, ring=ring)
        members = [start.applicant.id_number, *(m.id_number for m in start.household)]
        for hold in result.settle:
            settle_hold(
                session, hold_key=hold, key=settlement_key(hold), at=at, members=members,
                cause=start.cause, ring=ring,
            )  # fmt: skip
    for hold in result.release:
        reserve.release(session, hold_key=hold, key=release_key(hold), at=at)
    entries = record_reconciliation(
        view, result, at=at, after_seq=last_seq(session, case_no=case_no)
    )
    apply_transition(session, Transition(view=view, entries=entries))
    return True


def settle_hold(
    session: Session,
    *,
    hold_key: str,
    key: str,
    at: datetime,
    members: list[str],
    cause: str,
    ring: KeyRing,
) -> ReserveState:
    """The held payment went to the family (``store.reserve.settle``); a reserve it takes
    below its minimum is reported to the district at once (once, as it crosses: not again for
    every payment below it)."""
    state = reserve.settle(
        session, hold_key=hold_key, key=key, at=at, members=members, cause=cause, ring=ring
    )
    paid = reserve.entry(session, key=key).amount
    if state.balance < state.minimum <= state.balance + paid:
        record_staff_notice(
            session,
            StaffNotice(
                case_no="",
                key=f"reserve_below_minimum:{key}",
                kind="reserve_below_minimum",
                message=(
                    f"the emergency reserve of township {state.township} is ¥{state.balance}, "
                    f"below its minimum of ¥{state.minimum}; top it up"
                ),
                assignee="",
                township=state.township,
                at=at,
            ),
        )
    return state


def resume_halted(
    session: Session,
    *,
    view: CaseView | EmergencyView,
    entries: list[AuditEntry],
    halted_version: int,
) -> None:
    """A supervisor restarts a halted case: its last state goes back on the record, unless the
    case changed meanwhile (closed, or restarted by someone else: ``Conflict``)."""
    row = _locked(session, view.case_no)
    if row is None or row.stage != Stage.halted or row.version != halted_version:
        raise Conflict(
            f"case {view.case_no} changed while it was being restarted (it is now at stage "
            f"'{row.stage if row else 'unknown'}'); read it again"
        )
    apply_transition(session, Transition(view=view, entries=entries))


def close_halted(
    session: Session, *, case_no: str, actor: Actor, reason: str, at: datetime
) -> CaseView | EmergencyView:
    """A supervisor closes a halted, reconciled case with reasons: its family may apply again."""
    row = _locked(session, case_no)
    if row is None:
        raise NotFound(f"no case {case_no}")
    view = view_of(row)
    entry = close(
        view, actor=actor, reason=reason, at=at, seq=last_seq(session, case_no=case_no) + 1
    )
    apply_transition(session, Transition(view=view, entries=[entry]))
    return view


def _locked(session: Session, case_no: str) -> CaseRecord | EmergencyRecord | None:
    """The case's record, locked until the transaction ends (PostgreSQL; on SQLite the writing
    transaction holds the database's write lock already)."""
    for table in (CaseRecord, EmergencyRecord):
        row = session.exec(select(table).where(table.case_no == case_no).with_for_update()).first()
        if row is not None:
            return row
    return None


def audit_trail(session: Session, *, case_no: str) -> list[AuditEntryRecord]:
    """Who did what, when, from which stage to which (留痕), in order."""
    query = select(AuditEntryRecord).where(AuditEntryRecord.case_no == case_no)
    return list(session.exec(query.order_by(AuditEntryRecord.seq)))


def waiting_for_funds(session: Session, *, township: str) -> list[EmergencyView]:
    """The township's emergencies waiting for funds, the earliest request first."""
    rows = session.exec(
        select(EmergencyRecord)
        .where(
            EmergencyRecord.township == township,
            EmergencyRecord.stage == EmergencyStage.awaiting_funds,
        )
        .order_by(EmergencyRecord.requested_at)
    )
    return [view_of(row) for row in rows]


def record_staff_notice(session: Session, notice: StaffNotice) -> None:
    if session.get(StaffNotification, notice.key) is None:
        session.add(StaffNotification(**asdict(notice)))


def view_of(row: CaseRecord | EmergencyRecord) -> CaseView | EmergencyView:
    """The case as its workflow last wrote it."""
    return _ADAPTERS[type(row)].validate_json(row.view)


def _write_view(
    session: Session,
    view: CaseView | EmergencyView,
    *,
    applicant_id_number: str,
    start: str | None,
) -> None:
    """The case's record as ``view``, whatever it was (one statement)."""
    table, columns = _columns(view)
    columns |= {"applicant_id_number": applicant_id_number, "start": start}
    session.exec(_upsert(table, _dialect(session), newer_only=False), params=columns)


def _write_newer(session: Session, view: CaseView | EmergencyView) -> None:
    """The case's record as ``view`` unless as new a version is on record (a retried or late
    write of an older one changes nothing); its masked ID number and sealed intake kept. One
    statement, nothing read first."""
    table, columns = _columns(view)
    columns |= {"applicant_id_number": "", "start": None}  # for a record not yet written
    session.exec(_upsert(table, _dialect(session), newer_only=True), params=columns)


def _columns(view: CaseView | EmergencyView) -> tuple[type, dict[str, Any]]:
    """The projection's table, and its columns from the view; a write clears what the engine's
    watch had found (it looks again)."""
    table, adapter = _PROJECTIONS[type(view)]
    columns = {name: getattr(view, name) for name in table.model_fields if name not in NOT_IN_VIEW}
    return table, columns | {"view": adapter.dump_json(view).decode(), "engine_problem": None}


_KEPT = ("applicant_id_number", "start")
"""What a later write of the view leaves as the intake wrote it."""


@cache
def _upsert(table: type, dialect: str, *, newer_only: bool) -> Any:
    """The statement writing a case's record, every column a parameter: made once (on the
    table, not the mapped class: no ORM bookkeeping, and its compiled form is cached)."""
    columns = table.__table__
    insert = _INSERTS[dialect](columns)
    kept = _KEPT if newer_only else ()
    return insert.on_conflict_do_update(
        index_elements=["case_no"],
        set_={c.name: insert.excluded[c.name] for c in columns.columns if c.name not in kept},
        where=columns.c.version < insert.excluded.version if newer_only else None,
    )


_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert(session: Session):
    return _INSERTS[_dialect(session)]
