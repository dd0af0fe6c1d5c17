"""部门转介: a family in hardship that another department (医保, 教育, 残联, 应急管理, 信访, 人社)
reports to 民政, forwarded to the family's township to verify within a deadline, its outcome
going back to the department (seed §4: 统一汇总至民政部门，转交镇、街道进行核实处理).

Pure: what a referral must be, what an outcome must say, its deadline and reminder on the
holiday calendar, and the timed events ``ReferralWorkflow`` waits for. The records are
``store.referrals``'.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from domain.calendar import SHANGHAI, WorkingCalendar, end_of_day
from domain.cases import Actor, Role
from domain.casework import TimedEvent
from domain.errors import InvalidData, NotPermitted, WrongStage
from domain.policy import Policy


class Department(StrEnum):
    """Who refers (a liaison's token names theirs)."""

    medical_insurance = "medical_insurance"  # 医保: large medical bills
    education = "education"  # 教育: students' costs
    disabled_persons = "disabled_persons"  # 残联: severe disability
    emergency_management = "emergency_management"  # 应急管理: disasters
    petitions = "petitions"  # 信访
    human_resources = "human_resources"  # 人社: zero-employment families
    other = "other"


class Situation(StrEnum):
    """The hardship the department saw."""

    major_illness = "major_illness"
    schooling_costs = "schooling_costs"
    severe_disability = "severe_disability"
    disaster = "disaster"
    zero_employment = "zero_employment"
    other = "other"
    found_in_sweep = "found_in_sweep"
    """Found by the township's own sweep (摸底排查, ``domain.sweeps``), not a department."""


class Status(StrEnum):
    open = "open"
    """In the township's inbox, to be verified by ``verify_by``."""
    linked = "linked"
    """The family's referral already open takes it: its outcome is that one's."""
    closed = "closed"
    """Its outcome is given."""


class Outcome(StrEnum):
    application_opened = "application_opened"
    """Set by itself when an application or emergency intake names the referral."""
    not_eligible = "not_eligible"
    already_assisted = "already_assisted"
    referred_elsewhere = "referred_elsewhere"


class Event(StrEnum):
    referral_due_soon = "referral_due_soon"
    referral_overdue = "referral_overdue"


def check_department(value: str | None, *, field: str = "department") -> Department:
    if value not in Department.__members__:
        raise InvalidData(field, f"one of {', '.join(Department)}")
    return Department(value)


def check_situation(value: str) -> Situation:
    """The hardship a department (or a sweep) saw; ``found_in_sweep`` is given by the sweep
    itself, never named."""
    if value not in Situation.__members__ or value == Situation.found_in_sweep:
        named = ", ".join(s for s in Situation if s != Situation.found_in_sweep)
        raise InvalidData("situation", f"one of {named}")
    return Situation(value)


def filing_department(actor: Actor, named: str | None) -> Department:
    """Whose referral it is: a liaison's own department (naming another is refused); a
    district officer records one a department sent on paper, naming it (default ``other``)."""
    if actor.role == Role.department_liaison:
        own = check_department(actor.department)
        if named is not None and named != own:
            raise InvalidData("department", f"your account is of department {own}")
        return own
    if actor.role == Role.district_officer:
        return check_department(named or Department.other)
    raise NotPermitted("a referral is filed by a department liaison or a district officer")


@dataclass(frozen=True)
class OutcomeRecord:
    """The township's finding on a referral (by a township assistant)."""

    actor: Actor
    outcome: str
    reasons: str
    referred_to: str | None = None
    """referred_elsewhere: the department it goes to."""
    case_no: str | None = None
    """already_assisted: the case that assists the family …"""
    recipient_no: str | None = None
    """… or the recipient household it belongs to."""


def check_outcome(record: OutcomeRecord, *, referral_no: str, status: str, outcome: str | None,
                  linked_referral: str | None) -> None:  # fmt: skip
    """An open referral's outcome: by the township, with reasons, naming what its kind names."""
    if status == Status.linked:
        raise WrongStage(
            f"referral {referral_no} follows referral {linked_referral} of the same family: "
            "its outcome is given there"
        )
    if status != Status.open:
        raise WrongStage(f"referral {referral_no} is closed ({outcome})")
    if record.actor.role != Role.township_assistant:
        raise NotPermitted("the township verifies a referral (a township assistant)")
    if record.outcome == Outcome.application_opened:
        raise InvalidData(
            "outcome",
            "application_opened is set by itself when an application or emergency request "
            "names the referral_no",
        )
    if record.outcome not in Outcome.__members__:
        raise InvalidData("outcome", "one of not_eligible, already_assisted, referred_elsewhere")
    if not record.reasons.strip():
        raise InvalidData("reasons", "an outcome states its reasons: they go to the department")
    if record.outcome == Outcome.already_assisted and not (record.case_no or record.recipient_no):
        raise InvalidData("case_no", "name the case (case_no) or household (recipient_no)")
    if record.outcome == Outcome.referred_elsewhere:
        check_department(record.referred_to, field="referred_to")
    elif record.referred_to is not None:
        raise InvalidData("referred_to", "only a referral referred elsewhere names a department")


@dataclass(frozen=True)
class ReferralStart:
    """What ``ReferralWorkflow`` starts with: no personal data, only the deadline."""

    referral_no: str
    township: str
    verify_by: date
    reminder_on: date


@dataclass(frozen=True)
class ReferralAlarm:
    """A timed event of a referral, for the activity that records it."""

    referral_no: str
    kind: str
    key: str


def referral_dates(
    *, received_on: date, policy: Policy, calendar: WorkingCalendar
) -> tuple[date, date]:
    """The day the township's verification is due (working days after receipt) and the day
    its caseworkers are reminded (the working day from which ``deadline_warning_working_days``
    are left), on the holiday calendar."""
    verify_by = calendar.add_working_days(received_on, policy.referral_verify_working_days)[0]
    # The working day from which that many working days are left, ``verify_by`` included.
    reminder, left = verify_by, 1
    while left < policy.deadline_warning_working_days and reminder > received_on:
        reminder -= timedelta(days=1)
        left += calendar.is_working_day(reminder)
    return verify_by, reminder


def referral_events(start: ReferralStart) -> list[TimedEvent]:
    """The reminder (09:00 on its day) and the breach (the first moment after ``verify_by``)."""
    remind = datetime.combine(start.reminder_on, time(9), SHANGHAI)
    due = end_of_day(start.verify_by) + timedelta(seconds=1)
    return [
        TimedEvent(Event.referral_due_soon, remind, f"{Event.referral_due_soon}:{start.reminder_on}"),
        TimedEvent(Event.referral_overdue, due, f"{Event.referral_overdue}:{start.verify_by}"),
    ]  # fmt: skip


def event_message(kind: str, *, referral_no: str, verify_by: date, department: str) -> str:
    if kind == Event.referral_overdue:
        return (
            f"referral {referral_no} from {department} was to be verified by {verify_by} and "
            "has no outcome"
        )
    return f"referral {referral_no} from {department} is to be verified by {verify_by}"
