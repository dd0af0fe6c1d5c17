"""Writing and reading case records. Every writer is idempotent: a retried activity or request
leaves the same rows as one that ran once."""

from dataclasses import asdict

from pydantic import TypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete, select, update

from domain.cases import CLOSED_STAGES, AuditEntry, CaseStart, CaseView, Transition
from domain.contracts import StaffNotice
from store.tables import (
    AuditEntryRecord,
    CaseCounter,
    CaseRecord,
    HouseholdClaim,
    StaffNotification,
)

_VIEW = TypeAdapter(CaseView)


class DuplicateApplication(Exception):
    def __init__(self, case_no: str) -> None:
        super().__init__(case_no)
        self.case_no = case_no


def next_case_no(session: Session, *, district: str, year: int) -> str:
    """案件号: district code, year, and a sequence within the year.

    The increment comes first so that the transaction holds the write lock from its start
    (SQLite) or the row lock (PostgreSQL) for the checks that follow.
    """
    bumped = session.exec(
        update(CaseCounter).where(CaseCounter.year == year).values(last=CaseCounter.last + 1)
    )
    if bumped.rowcount == 0:
        session.add(CaseCounter(year=year, last=1))
        session.flush()
    last = session.exec(select(CaseCounter.last).where(CaseCounter.year == year)).one()
    return f"{district}-{year}-{last:06d}"


def open_case_for(session: Session, *, assistance_type: str, id_numbers: list[str]) -> str | None:
    claim = session.exec(
        select(HouseholdClaim).where(
            HouseholdClaim.assistance_type == assistance_type,
            HouseholdClaim.id_number.in_(id_numbers),
        )
    ).first()
    return claim.case_no if claim else None


def accept_case(session: Session, *, start: CaseStart, view: CaseView, entry: AuditEntry) -> None:
    """Claim the household for this type and write the case's first record.

    The claim's primary key makes a concurrent duplicate fail here, inside the transaction.
    """
    members = [start.applicant.id_number, *(m.id_number for m in start.household)]
    if existing := open_case_for(session, assistance_type=start.assistance_type, id_numbers=members):
        raise DuplicateApplication(existing)
    session.add_all(
        HouseholdClaim(assistance_type=start.assistance_type, id_number=n, case_no=start.case_no)
        for n in members
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise DuplicateApplication("(being accepted at this moment)") from None
    _write_view(session, view, applicant_id_number=start.applicant.id_number)
    _append(session, entry)


def discard_case(session: Session, *, case_no: str) -> None:
    """Undo ``accept_case`` when the workflow could not be started."""
    session.exec(delete(HouseholdClaim).where(HouseholdClaim.case_no == case_no))
    session.exec(delete(AuditEntryRecord).where(AuditEntryRecord.case_no == case_no))
    session.exec(delete(CaseRecord).where(CaseRecord.case_no == case_no))


def apply_transition(session: Session, transition: Transition) -> None:
    view = transition.view
    row = session.get(CaseRecord, view.case_no)
    if row is None or row.version < view.version:
        _write_view(session, view, applicant_id_number=row.applicant_id_number if row else "")
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
    if view.stage in CLOSED_STAGES:
        session.exec(delete(HouseholdClaim).where(HouseholdClaim.case_no == view.case_no))


def record_staff_notice(session: Session, notice: StaffNotice) -> None:
    if session.get(StaffNotification, notice.key) is None:
        session.add(StaffNotification(**asdict(notice)))


def view_of(row: CaseRecord) -> CaseView:
    return _VIEW.validate_json(row.view)


def _write_view(session: Session, view: CaseView, *, applicant_id_number: str) -> None:
    fields = {k: v for k, v in _VIEW.dump_python(view).items() if k in CaseRecord.model_fields}
    row = CaseRecord(
        **fields,
        applicant_id_number=applicant_id_number,
        overdue=view.overdue,
        view=_VIEW.dump_json(view).decode(),
    )
    session.merge(row)


def _append(session: Session, entry: AuditEntry) -> None:
    session.add(
        AuditEntryRecord(
            case_no=entry.case_no,
            seq=entry.seq,
            at=entry.at,
            user_id=entry.actor.user_id,
            user_name=entry.actor.name,
            role=entry.actor.role,
            action=entry.action,
            from_stage=entry.from_stage,
            to_stage=entry.to_stage,
            note=entry.note,
        )
    )

