"""Referrals from other departments (``domain.referrals``) in the records: one row each, its
trail in ``audit_entry`` under its number, the family sealed (numbers masked in the row), and
the open referrals' claims on their family (keyed hashes) so that a second referral of the
same family links to the first instead of doubling it.

A referral about a family that already has an open case or is a recipient household is
linked to it at once (outcome ``already_assisted``, by the system): the township has nothing
to verify, and the department reads what assists the family.
"""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete, select, update

from domain.calendar import local_date
from domain.cases import SYSTEM, Actor, AuditEntry
from domain.contracts import StaffNotice
from domain.errors import InvalidData, NotFound, WrongStage
from domain.identity import mask_id_number, mask_phone
from domain.policy import Policy
from domain.referrals import (
    Outcome,
    OutcomeRecord,
    ReferralStart,
    Status,
    check_outcome,
    event_message,
    referral_dates,
)
from domain.sealing import TEXT_PREFIX, KeyRing
from domain.townships import DISTRICT_CODE, covers
from store import townships
from store.calendar import load_calendar
from store.evidence import append_entry
from store.hashed_ids import look_up
from store.jurisdiction import case_ref, within
from store.recipients import is_recipient, village_of_recipient
from store.records import last_seq, record_staff_notice
from store.sealed import open_start, seal_start
from store.tables import (
    AuditEntryRecord,
    CaseHead,
    HouseholdClaim,
    ReferralClaim,
    ReferralCounter,
    ReferralRecord,
)


@dataclass(frozen=True)
class Family:
    name: str
    id_number: str
    phone: str


@dataclass(frozen=True)
class Filing:
    """A referral as a department sends it (checked: its department, situation, numbers)."""

    department: str
    situation: str
    family: Family
    village: str
    note: str


@dataclass(frozen=True)
class Filed:
    row: ReferralRecord
    start: ReferralStart | None
    """Its workflow's start (None: linked, nothing to wait for)."""


def next_referral_no(session: Session, *, year: int) -> str:
    """转介号: district code, ZJ and the year, and a sequence within the year (one statement)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(ReferralCounter)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": ReferralCounter.last + 1})
        .returning(ReferralCounter.last)
    )
    last = session.exec(statement).scalar_one()
    return f"{DISTRICT_CODE}-ZJ{year}-{last:06d}"


def _trail(session: Session, row: ReferralRecord, *, actor: Actor, at: datetime, action: str,
           from_status: str | None, note: str) -> None:  # fmt: skip
    append_entry(
        session,
        AuditEntry(
            case_no=row.referral_no, seq=last_seq(session, case_no=row.referral_no) + 1, at=at,
            actor=actor, action=action, from_stage=from_status, to_stage=row.status, note=note,
        ),
    )  # fmt: skip


def file_referral(
    session: Session, *, filing: Filing, actor: Actor, now: datetime, policy: Policy, ring: KeyRing
) -> Filed:
    """The referral routed to the village's township, with its deadline on the holiday
    calendar; linked to the family's open case, household or open referral if it has one."""
    found = townships.village(session, filing.village)
    if found is None:
        raise InvalidData("village", f"{filing.village} is not a village of the district")
    township = found[1]
    hashes = look_up(ring, [filing.family.id_number])
    holders = session.exec(
        select(HouseholdClaim.case_no).where(HouseholdClaim.id_number_hash.in_(hashes))
    ).all()
    recipient = next((h for h in holders if is_recipient(session, h)), None)
    case = next((h for h in holders if not is_recipient(session, h)), None)
    open_referral = session.exec(
        select(ReferralClaim.referral_no).where(ReferralClaim.id_number_hash.in_(hashes))
    ).first()
    received_on = local_date(now)
    referral_no = next_referral_no(session, year=received_on.year)
    verify_by, reminder = referral_dates(
        received_on=received_on, policy=policy, calendar=load_calendar(session)
    )
    family = json.dumps(filing.family.__dict__, ensure_ascii=False)
    row = ReferralRecord(
        referral_no=referral_no, department=filing.department, situation=filing.situation,
        township=township, village=filing.village, family_name=filing.family.name,
        id_number=mask_id_number(filing.family.id_number), phone=mask_phone(filing.family.phone),
        family=seal_start(family, case_no=referral_no, ring=ring), note=filing.note,
        status=Status.open, received_at=now, received_by=actor.user_id, verify_by=verify_by,
    )  # fmt: skip
    note = f"{filing.department}: {filing.situation}; verify by {verify_by}"
    if case or recipient:
        row.status, row.outcome = Status.closed, Outcome.already_assisted
        row.linked_case, row.linked_recipient = case, recipient
        row.reasons = f"已在办/已是救助对象: {case or recipient}"
        row.acted_at, row.acted_by = now, SYSTEM.user_id
    elif open_referral:
        row.status, row.linked_referral = Status.linked, open_referral
    session.add(row)
    if row.status == Status.open:
        session.add_all(
            ReferralClaim(id_number_hash=h, key_id=k, referral_no=referral_no)
            for k, h in ring.indexes(filing.family.id_number).items()
        )
    try:
        session.flush()
    except IntegrityError:  # the same family filed at this moment by another request
        session.rollback()
        raise WrongStage("a referral of this family is being filed now; try again") from None
    _trail(session, row, actor=actor, at=now, action="referred", from_status=None, note=note)
    if row.status == Status.closed:
        _trail(session, row, actor=SYSTEM, at=now, action="linked", from_status=Status.open,
               note=f"already_assisted: {case or recipient}")  # fmt: skip
    elif row.status == Status.linked:
        _trail(session, row, actor=SYSTEM, at=now, action="linked", from_status=Status.open,
               note=f"follows referral {open_referral}")  # fmt: skip
    start = (
        ReferralStart(referral_no, township, verify_by, reminder)
        if row.status == Status.open
        else None
    )
    return Filed(row, start)


def discard_referral(session: Session, *, referral_no: str) -> None:
    """Undo ``file_referral`` when its workflow could not be started."""
    session.exec(delete(ReferralClaim).where(ReferralClaim.referral_no == referral_no))
    session.exec(delete(AuditEntryRecord).where(AuditEntryRecord.case_no == referral_no))
    session.exec(delete(CaseHead).where(CaseHead.case_no == referral_no))
    session.exec(delete(ReferralRecord).where(ReferralRecord.referral_no == referral_no))


def family_of(row: ReferralRecord, *, ring: KeyRing) -> Family:
    return Family(**json.loads(open_start(row.family, case_no=row.referral_no, ring=ring)))


def referral(session: Session, *, referral_no: str, user: Actor) -> ReferralRecord:
    """The referral, if the user may read it: of their jurisdiction, and for a liaison of
    their department (else as one that does not exist)."""
    row = session.get(ReferralRecord, referral_no)
    if row is None or not visible(row, user):
        raise NotFound(f"no referral {referral_no} in your jurisdiction")
    return row


def village_of_referral(session: Session, *, referral_no: str) -> str | None:
    """For the permission's jurisdiction check (None: no such referral)."""
    row = session.get(ReferralRecord, referral_no)
    return row.village if row else None


def visible(row: ReferralRecord, user: Actor) -> bool:
    if user.department is not None:
        return row.department == user.department
    return covers(user.jurisdiction, row.village)


def listing_query(*, user: Actor, equal: dict[str, str | None]):
    query = within(select(ReferralRecord), ReferralRecord, jurisdiction=user.jurisdiction)
    if user.department is not None:  # a liaison: their department's only
        query = query.where(ReferralRecord.department == user.department)
    for name, value in equal.items():
        if value is not None:
            query = query.where(getattr(ReferralRecord, name) == value)
    return query


def _close(session: Session, row: ReferralRecord, *, outcome: str, reasons: str, at: datetime,
           actor: Actor, case_no: str | None = None, recipient_no: str | None = None,
           referred_to: str | None = None) -> None:  # fmt: skip
    """The outcome on the referral and on each that follows it; its family's claim gone."""
    before = row.status
    row.status, row.outcome, row.reasons = Status.closed, outcome, reasons
    row.case_no = case_no if outcome == Outcome.application_opened else None
    if outcome == Outcome.already_assisted:
        row.linked_case, row.linked_recipient = case_no, recipient_no
    row.referred_to, row.acted_at, row.acted_by = referred_to, at, actor.user_id
    session.add(row)
    session.exec(delete(ReferralClaim).where(ReferralClaim.referral_no == row.referral_no))
    named = case_no or recipient_no or referred_to
    _trail(session, row, actor=actor, at=at, action=outcome, from_status=before,
           note=f"{reasons}" + (f" ({named})" if named else ""))  # fmt: skip
    followers = session.exec(
        select(ReferralRecord).where(
            ReferralRecord.linked_referral == row.referral_no,
            ReferralRecord.status == Status.linked,
        )
    ).all()
    for follower in followers:
        follower.status, follower.outcome, follower.reasons = Status.closed, outcome, reasons
        follower.case_no, follower.referred_to = row.case_no, referred_to
        follower.linked_case, follower.linked_recipient = row.linked_case, row.linked_recipient
        follower.acted_at, follower.acted_by = at, actor.user_id
        session.add(follower)
        _trail(session, follower, actor=actor, at=at, action=outcome, from_status=Status.linked,
               note=f"as referral {row.referral_no}: {reasons}")  # fmt: skip


def record_outcome(
    session: Session, *, referral_no: str, record: OutcomeRecord, at: datetime
) -> ReferralRecord:
    """The township's finding, checked under the referral's row lock."""
    row = session.exec(
        select(ReferralRecord).where(ReferralRecord.referral_no == referral_no).with_for_update()
    ).first()
    if row is None or not covers(record.actor.jurisdiction, row.village):
        raise NotFound(f"no referral {referral_no} in your jurisdiction")
    check_outcome(record, referral_no=referral_no, status=row.status, outcome=row.outcome,
                  linked_referral=row.linked_referral)  # fmt: skip
    if record.outcome == Outcome.already_assisted:
        _check_named(session, record)
    _close(session, row, outcome=record.outcome, reasons=record.reasons.strip(), at=at,
           actor=record.actor, case_no=record.case_no, recipient_no=record.recipient_no,
           referred_to=record.referred_to)  # fmt: skip
    session.flush()
    return row


def _check_named(session: Session, record: OutcomeRecord) -> None:
    """The case or household an ``already_assisted`` names exists."""
    if record.case_no and case_ref(session, case_no=record.case_no) is None:
        raise InvalidData("case_no", f"no case {record.case_no}")
    if record.recipient_no and village_of_recipient(session, recipient_no=record.recipient_no) is None:  # fmt: skip
        raise InvalidData("recipient_no", f"no recipient household {record.recipient_no}")


def open_from_intake(
    session: Session, *, referral_no: str, township: str, case_no: str, actor: Actor, at: datetime
) -> None:
    """An application or emergency request named the referral: its outcome is
    ``application_opened``, naming the case (in the intake's own transaction)."""
    row = session.exec(
        select(ReferralRecord).where(ReferralRecord.referral_no == referral_no).with_for_update()
    ).first()
    if row is None or row.township != township:
        raise InvalidData("referral_no", f"no referral {referral_no} in township {township}")
    if row.status == Status.linked:
        raise InvalidData(
            "referral_no",
            f"referral {referral_no} follows referral {row.linked_referral}: name that one",
        )
    if row.status != Status.open:
        raise InvalidData("referral_no", f"referral {referral_no} is closed ({row.outcome})")
    _close(session, row, outcome=Outcome.application_opened,
           reasons="application opened from the referral", at=at, actor=actor, case_no=case_no)  # fmt: skip


def reopen(session: Session, *, referral_no: str, case_no: str, ring: KeyRing) -> None:
    """The intake that named the referral was taken back (its workflow could not start): the
    referral is open again, as are those that follow it."""
    row = session.get(ReferralRecord, referral_no)
    if row is None or row.case_no != case_no:
        return
    row.status, row.outcome, row.reasons, row.case_no = Status.open, None, "", None
    row.acted_at = row.acted_by = None
    session.add(row)
    family = family_of(row, ring=ring)
    session.add_all(
        ReferralClaim(id_number_hash=h, key_id=k, referral_no=referral_no)
        for k, h in ring.indexes(family.id_number).items()
    )
    session.exec(
        update(ReferralRecord)
        .where(ReferralRecord.linked_referral == referral_no, ReferralRecord.case_no == case_no)
        .values(status=Status.linked, outcome=None, reasons="", case_no=None, acted_at=None,
                acted_by=None)
    )  # fmt: skip
    _trail(session, row, actor=SYSTEM, at=datetime.now(UTC), action="reopened",
           from_status=Status.closed, note=f"case {case_no} was not kept")  # fmt: skip


def fire_event(session: Session, *, referral_no: str, kind: str, key: str, at: datetime) -> bool:
    """A referral's reminder or breach, on its record and in the township's notifications,
    while it is open (once per ``key``); whether it is still open."""
    row = session.get(ReferralRecord, referral_no)
    if row is None or row.status != Status.open:
        return False
    if kind == "referral_overdue" and not row.overdue:
        session.exec(
            update(ReferralRecord)
            .where(ReferralRecord.referral_no == referral_no)
            .values(overdue=True)
        )
    message = event_message(kind, referral_no=referral_no, verify_by=row.verify_by,
                            department=row.department)  # fmt: skip
    record_staff_notice(
        session,
        StaffNotice(
            case_no=referral_no, key=f"{referral_no}:{key}", kind=kind, message=message,
            assignee="", township=row.township, at=at, village=row.village,
        ),
    )  # fmt: skip
    return True


def overdue_open(
    session: Session, *, jurisdiction: str, township: str | None, today: date, limit: int
) -> list[ReferralRecord]:
    """Open referrals past their verification date, the oldest first."""
    query = within(
        select(ReferralRecord).where(
            ReferralRecord.status == Status.open, ReferralRecord.verify_by < today
        ),
        ReferralRecord,
        jurisdiction=jurisdiction,
    )
    if township:
        query = query.where(ReferralRecord.township == township)
    return list(session.exec(query.order_by(ReferralRecord.verify_by).limit(limit)))


# ---- key rotation -------------------------------------------------------------------------


def reseal_referrals(session: Session, *, ring: KeyRing, chunk: int = 1_000) -> int:
    """Seal again under the current key every referral's family sealed under another (key
    rotation), a chunk at a time; how many were resealed."""
    current, written, after = f"{TEXT_PREFIX}{ring.current}:", 0, ""
    while rows := session.exec(
        select(ReferralRecord)
        .where(ReferralRecord.referral_no > after)
        .order_by(ReferralRecord.referral_no)
        .limit(chunk)
    ).all():
        after = rows[-1].referral_no
        for row in rows:
            if not row.family.startswith(current):
                plain = open_start(row.family, case_no=row.referral_no, ring=ring)
                row.family = seal_start(plain, case_no=row.referral_no, ring=ring)
                session.add(row)
                written += 1
        session.flush()
    return written


def rehash_claims(session: Session, *, ring: KeyRing, limit: int = 500) -> int:
    """The open referrals' claims under exactly the ring's keys (a key added: its hash too; a
    key gone: its hash dropped), so a second referral still finds the family after a
    rotation; how many referrals' claims were rewritten (0: all current)."""
    keys = ring.key_ids
    held: dict[str, set[str]] = {}
    for number, key_id in session.exec(select(ReferralClaim.referral_no, ReferralClaim.key_id)):
        held.setdefault(number, set()).add(key_id)
    stale = [number for number, ids in held.items() if ids != keys][:limit]
    for number in stale:
        family = family_of(session.get(ReferralRecord, number), ring=ring)
        session.exec(delete(ReferralClaim).where(ReferralClaim.referral_no == number))
        session.add_all(
            ReferralClaim(id_number_hash=h, key_id=k, referral_no=number)
            for k, h in ring.indexes(family.id_number).items()
        )
    session.flush()
    return len(stale)
