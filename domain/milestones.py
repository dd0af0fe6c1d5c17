"""A case's steps as a timeline (办理进度): each step done or still to come, and for a step
with a time limit whether it was kept. Pure, over a case's view as its workflow wrote it.

A time limit counts as missed when the workflow marked it so (its own timer fired, or the
step was recorded after it) or the step was done after it; a step not done and past its
limit is late; otherwise it is kept (done) or open (still to come)."""

from dataclasses import dataclass
from datetime import date, datetime

from domain.calendar import end_of_day, local_date
from domain.cases import CaseView
from domain.emergency import EmergencyView

KEPT, MISSED, LATE, OPEN = "kept", "missed", "late", "open"


@dataclass(frozen=True)
class Milestone:
    step: str
    """accepted, survey, review, notice, decision, refusal_notice, first_payment, closed;
    requested, approval, payout, follow_up (an emergency)."""
    at: datetime | None
    """When it was done (None: not yet)."""
    due: date | datetime | None = None
    """Its time limit: a day (by its end, Asia/Shanghai) or an instant."""
    verdict: str | None = None
    """kept, missed, late or open; None for a step without a time limit."""


def _verdict(at: datetime | None, due: date | datetime, *, marked: bool, now: datetime) -> str:
    limit = end_of_day(due) if not isinstance(due, datetime) else due
    if at is not None:
        return MISSED if marked or at >= limit else KEPT
    return LATE if marked or now >= limit else OPEN


def application_milestones(view: CaseView, *, now: datetime) -> list[Milestone]:
    """An application's steps: acceptance; the survey (starts within its working days); the
    township's review; the public notice; the district's decision (within its working days,
    as extended); for a refusal, the written notice (within its working days); the first
    payment; the close."""
    surveyed = view.surveyed_at
    if view.visited_on is not None and surveyed is not None:
        # Kept or missed by the visit's day, as the workflow and the report count it.
        surveyed_day = view.visited_on
        survey = Milestone(
            "survey", surveyed, view.survey_due,
            MISSED if view.survey_overdue or surveyed_day > view.survey_due else KEPT,
        )  # fmt: skip
    else:
        survey = Milestone(
            "survey", surveyed, view.survey_due,
            _verdict(surveyed, view.survey_due, marked=view.survey_overdue, now=now),
        )  # fmt: skip
    decided = view.decided_at
    decision = Milestone(
        "decision", decided, view.decision_due,
        MISSED if decided is not None and local_date(decided) > view.decision_due
        else _verdict(decided, view.decision_due, marked=view.decision_overdue, now=now),
    )  # fmt: skip
    steps = [
        Milestone("accepted", view.accepted_at),
        survey,
        Milestone("review", view.reviewed_at),
        Milestone("notice", view.notice_started_at, view.notice_ends_at),
        decision,
    ]
    if view.refusal_notice_due is not None:
        notified = view.refusal_notified_at
        steps.append(
            Milestone(
                "refusal_notice",
                notified,
                view.refusal_notice_due,
                _verdict(
                    notified, view.refusal_notice_due, marked=view.refusal_notice_overdue, now=now
                ),
            )  # fmt: skip
        )
    if view.first_payment_at is not None or view.monthly_amount is not None:
        steps.append(Milestone("first_payment", view.first_payment_at))
    steps.append(Milestone("closed", view.closed_at))
    return steps


def emergency_milestones(view: EmergencyView, *, now: datetime) -> list[Milestone]:
    """An emergency's steps: the request; the township's (or district's) approval; the money
    in the account within 24 hours of the request (先行救助); the full procedure completed
    afterwards (补办) by its day; the close."""
    steps = [
        Milestone("requested", view.requested_at),
        Milestone("approval", view.approved_at),
    ]
    if view.rejected_at is None:
        steps.append(
            Milestone(
                "payout",
                view.paid_at,
                view.pay_by,
                _verdict(view.paid_at, view.pay_by, marked=view.payout_overdue, now=now),
            )  # fmt: skip
        )
    if view.follow_up_due is not None:
        steps.append(
            Milestone(
                "follow_up",
                view.reviewed_at,
                view.follow_up_due,
                _verdict(
                    view.reviewed_at, view.follow_up_due, marked=view.follow_up_overdue, now=now
                ),
            )  # fmt: skip
        )
    steps.append(Milestone("closed", view.closed_at or view.rejected_at))
    return steps
