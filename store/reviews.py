"""Reviews of recipient households (``domain.reviews``) in the records: one row per review,
its trail in ``audit_entry`` under its number, what it opened with sealed (the members'
numbers); on the household, its next review's due date and the one review under way.

Opening is once per household at a time: under the household's row lock, a second opening
finds the first (and a reported change joins it).
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from sqlmodel import Session, func, select

from domain.benefits import BenefitDecision, effective_month
from domain.calendar import WorkingCalendar, local_date
from domain.cases import Actor, AuditEntry
from domain.errors import NotFound, WrongStage
from domain.policy import Policy
from domain.recipients import RecipientStatus, next_review_due, review_number
from domain.reviews import OPEN, ReportedChange, Review, ReviewStart, ReviewView, review_dates
from domain.sealing import KeyRing
from store.calendar import load_calendar
from store.evidence import append_entry
from store.recipients import decide_benefit, locked_recipient, view_of, write_view
from store.records import last_seq, start_of
from store.review_rows import review_view, write_review
from store.sealed import open_start, seal_start
from store.standards import policy_in_force
from store.tables import CaseRecord, RecipientRecord, ReviewRecord

START = TypeAdapter(ReviewStart)
STANDING = [s.value for s in RecipientStatus if s.standing]


def review_start(row: ReviewRecord, *, ring: KeyRing) -> ReviewStart:
    return START.validate_json(open_start(row.start, case_no=row.review_no, ring=ring))


@dataclass(frozen=True)
class Opening:
    """A review opened now (``start`` to start its workflow with), or the one under way."""

    review_no: str
    start: ReviewStart | None


def open_review(
    session: Session,
    *,
    recipient_no: str,
    kind: str,
    reason: str,
    actor: Actor,
    now: datetime,
    policy: Policy,
    ring: KeyRing,
    today: date,
    change: ReportedChange | None = None,
    calendar: WorkingCalendar | None = None,
) -> Opening:
    """The household's review: the one under way, or a new one with its deadlines on the
    holiday calendar (a periodic review is due on the household's due date), on the household's
    trail and in the records."""
    row = locked_recipient(session, recipient_no)
    household = view_of(row)
    if household.open_review:
        return Opening(household.open_review, None)
    if calendar is None:  # a round gives both, read once for its page
        policy, calendar = policy_in_force(session, policy), load_calendar(session)
    if not household.status.standing:
        raise WrongStage(
            f"household {recipient_no}'s benefit has ended: there is nothing to review"
        )
    case = start_of(session.get(CaseRecord, household.case_no), ring=ring)
    if case is None:
        raise NotFound(f"the intake of household {recipient_no}'s case is not kept")
    household.reviews += 1
    review_no = review_number(recipient_no, household.reviews)
    survey_due, decision_due, reminder = review_dates(
        opened_on=today,
        due=household.review_due if kind == "periodic" else None,
        policy=policy,
        calendar=calendar,
    )
    start = ReviewStart(
        review_no=review_no, recipient=household, applicant=case.applicant,
        household=case.household, kind=kind, reason=reason, opened_by=actor, opened_at=now,
        survey_due=survey_due, decision_due=decision_due, reminder_on=reminder, policy=policy,
        change=change,
    )  # fmt: skip
    household.open_review, household.version = review_no, household.version + 1
    write_view(session, household)
    append_entry(
        session,
        AuditEntry(
            case_no=recipient_no, seq=last_seq(session, case_no=recipient_no) + 1, at=now,
            actor=actor, action="review_opened", from_stage=household.status,
            to_stage=household.status, note=f"{review_no} ({kind}, due {decision_due}): {reason}",
        ),
    )  # fmt: skip
    sealed = seal_start(START.dump_json(start).decode(), case_no=review_no, ring=ring)
    opened = Review.opened(start).view
    opened.version = 0  # the workflow's first write brings the opening's step
    write_review(session, opened, start=sealed)
    return Opening(review_no, start)


def open_reviews(
    session: Session, *, recipient_nos: list[str], policy: Policy, **opening: Any
) -> list[Opening]:
    """``open_review`` for each household, in one transaction (the day's round, a page at a
    time), the policy in force and the calendar read once."""
    policy, calendar = policy_in_force(session, policy), load_calendar(session)
    return [
        open_review(session, recipient_no=n, policy=policy, calendar=calendar, **opening)
        for n in recipient_nos
    ]


def decide_review(
    session: Session,
    *,
    review_no: str,
    recipient_no: str,
    decision: BenefitDecision,
    at: datetime,
    policy: Policy,
    assessed_income: Decimal | None = None,
) -> str:
    """The review's decision on the household's course, once (a retry finds the household no
    longer under this review, even for a decision that changed nothing on it), the review no
    longer under way, the next one due a cadence after it. The month it holds from."""
    if view_of(locked_recipient(session, recipient_no)).open_review != review_no:
        return _decided_month(session, recipient_no=recipient_no, review_no=review_no, at=at,
                              decision=decision)  # fmt: skip
    household = decide_benefit(
        session, recipient_no=recipient_no, decision=decision, reference=review_no, now=at,
        policy=policy,
    )  # fmt: skip
    household.open_review = None
    if assessed_income is not None and household.status.standing:
        household.assessed_income = assessed_income
    household.review_due = (
        next_review_due(local_date(at), household.review_cadence)
        if household.status.standing
        else None
    )
    household.version += 1
    write_view(session, household)
    return _decided_month(
        session, recipient_no=recipient_no, review_no=review_no, at=at, decision=decision
    )


def _decided_month(
    session: Session, *, recipient_no: str, review_no: str, at: datetime, decision: BenefitDecision
) -> str:
    """The month the review's decision holds from: its first change on the course, or (one
    that changed nothing) the month it names."""
    course = view_of(session.get(RecipientRecord, recipient_no)).course
    made = [c for c in course if c.reference == review_no]
    return made[0].from_month if made else str(effective_month(decision, now=at))


def reviews_of(session: Session, *, recipient_no: str) -> list[ReviewView]:
    rows = session.exec(
        select(ReviewRecord)
        .where(ReviewRecord.recipient_no == recipient_no)
        .order_by(ReviewRecord.opened_at.desc())
        .limit(100)
    ).all()
    return [review_view(r) for r in rows]


def review(session: Session, *, recipient_no: str, review_no: str) -> ReviewRecord:
    row = session.get(ReviewRecord, review_no)
    if row is None or row.recipient_no != recipient_no:
        raise NotFound(f"no review {review_no} of household {recipient_no}")
    return row


def due_for_opening(session: Session, *, horizon: date, after: str, limit: int) -> list[str]:
    """Households whose periodic review falls due by ``horizon`` and is not under way."""
    return list(
        session.exec(
            select(RecipientRecord.recipient_no)
            .where(
                RecipientRecord.review_due <= horizon,
                RecipientRecord.open_review.is_(None),
                RecipientRecord.status.in_(STANDING),
                RecipientRecord.recipient_no > after,
            )
            .order_by(RecipientRecord.recipient_no)
            .limit(limit)
        )
    )


def without_due_date(session: Session, *, policy: Policy, limit: int = 500) -> int:
    """Households registered before reviews were kept get their due date (a cadence after
    their registration): how many did now."""
    rows = session.exec(
        select(RecipientRecord)
        .where(RecipientRecord.review_due.is_(None), RecipientRecord.status.in_(STANDING))
        .limit(limit)
    ).all()
    for row in rows:
        household = view_of(row)
        household.review_cadence = household.review_cadence or policy.review_cadence(
            household.assistance_type
        )
        household.review_due = next_review_due(row.registered_at.date(), household.review_cadence)
        write_view(session, household)
    return len(rows)


def open_under_way(session: Session, *, after: str, limit: int) -> list[ReviewRecord]:
    """Reviews under way, by number (their workflows started again if lost)."""
    return list(
        session.exec(
            select(ReviewRecord)
            .where(ReviewRecord.stage.in_([s.value for s in OPEN]), ReviewRecord.review_no > after)
            .order_by(ReviewRecord.review_no)
            .limit(limit)
        )
    )


def count_open(session: Session) -> int:
    return session.exec(
        select(func.count()).where(ReviewRecord.stage.in_([s.value for s in OPEN]))
    ).one()
