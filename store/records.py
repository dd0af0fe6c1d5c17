"""Writing and reading case records. Every writer is idempotent: a retried activity or request
leaves the same rows as one that ran once."""

from dataclasses import asdict
from datetime import datetime

from pydantic import TypeAdapter
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete, func, select

from domain.cases import CLOSED_STAGES, SYSTEM, AuditEntry, CaseStart, CaseView, Stage
from domain.contracts import StaffNotice, Transition
from domain.emergency import CLOSED as EMERGENCY_CLOSED
from domain.emergency import EmergencyStart, EmergencyView
from domain.evidence import content_of, entry_hash
from domain.identity import mask_id_number
from domain.sealing import KeyRing
from store.evidence import advance_head, previous_hash
from store.hashed_ids import claim_rows, look_up
from store.sealed import open_start, seal_start
from store.tables import (
    AuditEntryRecord,
    CaseCounter,
    CaseHead,
    CaseRecord,
    EmergencyRecord,
    HouseholdClaim,
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
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    statement = (
        insert(CaseCounter)
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
    _append(session, entry)


def start_of(
    row: CaseRecord | EmergencyRecord, *, ring: KeyRing
) -> CaseStart | EmergencyStart | None:
    """What was accepted, as the workflow's input (None for cases accepted before it was kept)."""
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
    view = transition.view
    row = session.get(_PROJECTIONS[type(view)][0], view.case_no)
    if row is None or row.version < view.version:
        _write_view(
            session,
            view,
            applicant_id_number=row.applicant_id_number if row else "",
            start=row.start if row else None,
        )
    written = set(
        session.exec(
            select(AuditEntryRecord.seq).where(
                AuditEntryRecord.case_no == view.case_no,
                AuditEntryRecord.seq.in_([e.seq for e in transition.entries]),
            )
        )
    )
    for entry in transition.entries:
        if entry.seq not in written:
            _append(session, entry)
    if view.stage in CLOSED_STAGES | EMERGENCY_CLOSED:
        session.exec(delete(HouseholdClaim).where(HouseholdClaim.case_no == view.case_no))


def halt_case(session: Session, *, case_no: str, status: str, at: datetime) -> bool:
    """Mark a case whose workflow the engine stopped (``status``: terminated, failed, …) as
    halted: never shown as open again, its household free to apply again, the step on the
    audit trail. False when the case was already closed."""
    row = session.get(CaseRecord, case_no) or session.get(EmergencyRecord, case_no)
    if row is None or row.stage in CLOSED_STAGES | EMERGENCY_CLOSED:
        return False
    view = view_of(row)
    last = session.exec(
        select(func.max(AuditEntryRecord.seq)).where(AuditEntryRecord.case_no == case_no)
    ).one()
    entry = AuditEntry(
        case_no=case_no,
        seq=(last or 0) + 1,
        at=at,
        actor=SYSTEM,
        action="case_halted",
        from_stage=view.stage,
        to_stage=Stage.halted,
        note=f"the case engine reports the workflow {status}; a supervisor must restart or close the case",
    )
    view.stage, view.version, view.closed_at = Stage.halted, entry.seq, at
    apply_transition(session, Transition(view=view, entries=[entry]))
    return True


def audit_trail(session: Session, *, case_no: str) -> list[AuditEntryRecord]:
    """Who did what, when, from which stage to which (留痕), in order."""
    query = select(AuditEntryRecord).where(AuditEntryRecord.case_no == case_no)
    return list(session.exec(query.order_by(AuditEntryRecord.seq)))


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
    table, adapter = _PROJECTIONS[type(view)]
    fields = {k: v for k, v in adapter.dump_python(view).items() if k in table.model_fields}
    row = table(
        **fields,
        applicant_id_number=applicant_id_number,
        overdue=view.overdue,
        longest_stage=view.longest_stage,
        view=adapter.dump_json(view).decode(),
        start=start,
    )
    session.merge(row)


def _append(session: Session, entry: AuditEntry) -> None:
    """Append one entry, chained to the case's entry before it (``domain.evidence``), and make
    it the case's head (``store.evidence``). A case's entries are appended in seq order, each in
    the transaction that writes its step."""
    content = content_of(entry)
    prev_hash = previous_hash(session, case_no=entry.case_no, seq=entry.seq)
    record = AuditEntryRecord(**content, prev_hash=prev_hash, hash=entry_hash(content, prev_hash))
    session.add(record)
    session.flush()  # its id, for the head
    advance_head(session, record)
