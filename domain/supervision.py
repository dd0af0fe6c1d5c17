"""督办: which open cases are not moving, why, whom they wait for, and what a supervisor can do.
Pure: the records give each case's facts, the calendar its working days, the caller the time."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.calendar import WorkingCalendar, WorkingDayIndex, end_of_day, local_date
from domain.cases import Intervention, Stage
from domain.emergency import EmergencyStage


class Reason(StrEnum):
    waiting_on_person = "waiting_on_person"  # longer than expected for its stage
    due_soon = "due_soon"
    overdue = "overdue"
    retrying = "retrying"  # an external system is down; the call waits for its next attempt
    refused_by_external_system = "refused_by_external_system"
    engine_problem = "engine_problem"  # a failing workflow task, or no workflow at all
    waiting_for_funds = "waiting_for_funds"
    not_reconciled = "not_reconciled"  # a payroll batch's totals differ from the bank's
    not_registered = "not_registered"  # approved before the register, and not entered in it
    review_overdue = "review_overdue"  # a recipient household's review past its due date
    referral_overdue = "referral_overdue"  # a department's referral not verified by its date
    sweep_overdue = "sweep_overdue"  # a township's sweep of its villages past its cadence
    check_up_overdue = "check_up_overdue"  # a watched household's check-up past its date


@dataclass(frozen=True)
class Thresholds:
    """How long a stage may hold a case (working days) before it counts as not moving, and
    how near a deadline counts as due soon."""

    stage_working_days: dict[str, int] = field(
        default_factory=lambda: {
            Stage.survey: 3,
            Stage.review: 3,
            Stage.decision: 5,
            Stage.awaiting_documents: 10,
            EmergencyStage.paid: 5,
            EmergencyStage.follow_up: 5,
        }
    )
    awaiting_approval_hours: int = 4
    due_soon_working_days: int = 2
    due_soon_hours: int = 6


@dataclass(frozen=True)
class OpenCase:
    """What the list needs to know of an open case, from its record."""

    kind: str  # application | emergency
    case_no: str
    type: str  # assistance type, or an emergency's cause
    township: str
    village: str
    stage: str
    since: datetime
    assignee: str
    assigned_at: datetime | None = None
    """A supervisor gave it to its assignee then: the wait counts from there."""
    deadlines: dict[str, datetime] = field(default_factory=dict)
    """The deadlines still to be met, by name, as the instant they end."""
    refusals: list[str] = field(default_factory=list)
    """Refusals by external systems that block the case: verification, payment, sms."""
    engine_problem: str | None = None
    retrying: list[str] = field(default_factory=list)
    """Activities waiting for their next attempt."""
    has_start: bool = True
    """Whether what was accepted is kept (a workflow lost at intake can be started again)."""
    halted_from: str | None = None
    """Halted by the case engine: the stage it was at."""
    reconciled: bool = False
    """Halted, and its payments reconciled with the bank: a supervisor may restart or close it."""


@dataclass(frozen=True)
class Stuck:
    """One row of the list: a case and one reason it is not moving."""

    case_no: str
    kind: str
    type: str
    township: str
    stage: str
    since: datetime
    assignee: str
    waits_for: str
    due: datetime | None
    reason: Reason
    detail: str
    actions: list[str]


def stuck_reasons(
    case: OpenCase, *, now: datetime, index: WorkingDayIndex, thresholds: Thresholds
) -> list[Stuck]:
    """Every reason the case is not moving (none: it is moving)."""
    found: list[tuple[Reason, str, datetime | None, list[Intervention]]] = []
    waiting = max(case.since, case.assigned_at) if case.assigned_at else case.since
    held = index.between(local_date(waiting), local_date(now))
    limit = thresholds.stage_working_days.get(case.stage)
    if limit is not None and held > limit:
        what = (
            "the applicant's documents not brought"
            if case.stage == Stage.awaiting_documents
            else f"at {case.stage}"
        )
        detail = f"{what} for {held} working days (expected within {limit})"
        found.append((Reason.waiting_on_person, detail, None, _MOVE))
    if case.stage == EmergencyStage.awaiting_approval:
        hours = (now - waiting) / timedelta(hours=1)
        if hours > thresholds.awaiting_approval_hours:
            found.append(
                (Reason.waiting_on_person, f"{hours:.0f} hours awaiting approval", None, _MOVE)
            )
    for name, ends in sorted(case.deadlines.items(), key=lambda d: d[1]):
        if ends <= now:
            found.append((Reason.overdue, f"{name} was due {_moment(ends)}", ends, _DEADLINE))
        elif _soon(ends, now=now, index=index, thresholds=thresholds, hours=name == "payout"):
            found.append((Reason.due_soon, f"{name} is due {_moment(ends)}", ends, _DEADLINE))
    for activity in case.retrying:
        found.append(
            (
                Reason.retrying,
                f"{activity} waits for its next attempt",
                None,
                [Intervention.retry_now, Intervention.escalate],
            )
        )
    for refusal in case.refusals:
        actions = [Intervention.reverify] if refusal == "verification" else []
        found.append(
            (
                Reason.refused_by_external_system,
                _REFUSED[refusal],
                None,
                [*actions, Intervention.escalate],
            )
        )
    if case.stage == Stage.halted:
        found.append(_halted(case))
    elif case.engine_problem:
        actions = (
            [Intervention.restart_orphan, Intervention.cancel]
            if case.engine_problem == NO_WORKFLOW
            else [Intervention.escalate]
        )
        if case.engine_problem == NO_WORKFLOW and not case.has_start:
            actions = [Intervention.cancel]
        found.append((Reason.engine_problem, case.engine_problem, None, actions))
    if case.stage == EmergencyStage.awaiting_funds:
        found.append(
            (
                Reason.waiting_for_funds,
                f"the reserve of township {case.township} cannot cover it",
                None,
                [Intervention.escalate],
            )
        )
    if not found:
        return []
    person = _waits_for(case)
    return [
        Stuck(
            case_no=case.case_no,
            kind=case.kind,
            type=case.type,
            township=case.township,
            stage=case.stage,
            since=case.since,
            assignee=case.assignee,
            waits_for=person,
            due=due,
            reason=reason,
            detail=detail,
            actions=[a.value for a in actions],
        )
        for reason, detail, due, actions in found
    ]


NO_WORKFLOW = "no workflow behind the record"
_MOVE = [Intervention.reassign, Intervention.escalate, Intervention.extend_deadline]
_DEADLINE = [Intervention.escalate, Intervention.reassign, Intervention.extend_deadline]
_REFUSED = {
    "verification": "the verification platform refused the request",
    "payment": "the payment system refused the account; a corrected one is needed",
    "sms": "the SMS system refused a message to the family",
}


def _halted(case: OpenCase) -> tuple[Reason, str, None, list[Intervention]]:
    stopped = f"the case engine stopped its workflow at stage '{case.halted_from}' (halted)"
    if not case.reconciled:
        return (
            Reason.engine_problem,
            f"{stopped}; its payments are being reconciled with the bank",
            None,
            [],
        )
    return (
        Reason.engine_problem,
        f"{stopped}; its payments are reconciled: restart it from its last state, or close it",
        None,
        [Intervention.restart, Intervention.close],
    )


def _waits_for(case: OpenCase) -> str:
    """Whom the case waits for: a person where there is one, else a role and its township."""
    township = f"of township {case.township}"
    return {
        Stage.survey: f"the household survey: {case.assignee} or a village coordinator of {case.village}",
        Stage.review: f"a township assistant {township}",
        Stage.notice: "the end of the public notice",
        Stage.decision: "a district officer",
        Stage.awaiting_documents: "the applicant's documents",
        Stage.approved: f"a bank account for the family: {case.assignee}",
        EmergencyStage.awaiting_approval: f"a township leader {township} (or the district)",
        EmergencyStage.awaiting_funds: "a top-up of the reserve by the district",
        EmergencyStage.paying: "the payment system",
        EmergencyStage.awaiting_account: f"a corrected bank account: {case.assignee}",
        EmergencyStage.paid: f"the follow-up survey: {case.assignee}",
        EmergencyStage.follow_up: "the township review, then a district officer",
        Stage.halted: "a supervisor, to restart or close it"
        if case.reconciled
        else "the reconciliation of its payments with the bank",
    }.get(case.stage, case.assignee)


def _soon(
    ends: datetime, *, now: datetime, index: WorkingDayIndex, thresholds: Thresholds, hours: bool
) -> bool:
    if hours:
        return ends - now <= timedelta(hours=thresholds.due_soon_hours)
    return index.between(local_date(now), local_date(ends)) <= thresholds.due_soon_working_days


def _moment(ends: datetime) -> str:
    """A date for a deadline at the end of a day, else the time."""
    day = local_date(ends - timedelta(microseconds=1))
    return str(day) if ends == end_of_day(day) else f"{ends:%Y-%m-%d %H:%M} UTC"


def application_deadlines(
    *,
    stage: str,
    survey_due: date | None,
    surveyed: bool,
    decision_due: date | None,
    refusal_notice_due: date | None,
    refusal_notified: bool,
) -> dict[str, datetime]:
    """The deadlines an application still has to meet."""
    deadlines = {}
    if stage == Stage.survey and not surveyed and survey_due:
        deadlines["survey start"] = end_of_day(survey_due)
    if stage in (Stage.survey, Stage.review, Stage.notice, Stage.decision) and decision_due:
        deadlines["decision"] = end_of_day(decision_due)
    if stage == Stage.refused and not refusal_notified and refusal_notice_due:
        deadlines["written refusal"] = end_of_day(refusal_notice_due)
    return deadlines


def emergency_deadlines(
    *, stage: str, pay_by: datetime, follow_up_due: date | None, reviewed: bool
) -> dict[str, datetime]:
    """The deadlines an emergency still has to meet."""
    deadlines = {}
    if stage in (
        EmergencyStage.awaiting_approval,
        EmergencyStage.awaiting_funds,
        EmergencyStage.paying,
        EmergencyStage.awaiting_account,
    ):
        deadlines["payout"] = pay_by
    if stage in (EmergencyStage.paid, EmergencyStage.follow_up) and follow_up_due and not reviewed:
        deadlines["follow-up"] = end_of_day(follow_up_due)
    return deadlines


def refused_payment(
    *, recipient_no: str, assistance_type: str, township: str, month: str, amount: Decimal,
    reason: str, since: datetime,
) -> Stuck:  # fmt: skip
    """A household's monthly payment the bank refused: a caseworker records its corrected
    account (``POST /recipients/{no}/bank-account``), and the month is re-issued once."""
    return Stuck(
        case_no=recipient_no,
        kind="recipient",
        type=assistance_type,
        township=township,
        stage="payment_refused",
        since=since,
        assignee="",
        waits_for=f"a corrected bank account: a township assistant of {township}",
        due=None,
        reason=Reason.refused_by_external_system,
        detail=f"the bank refused the {month} payment (¥{amount}): {reason}",
        actions=[],
    )


def unreconciled_batch(
    *, batch_key: str, township: str, month: str, difference: Decimal, since: datetime
) -> Stuck:
    """A payroll batch whose paid lines do not add up to the bank's totals, to the fen."""
    return Stuck(
        case_no=batch_key,
        kind="payroll",
        type="payroll",
        township=township,
        stage="not_reconciled",
        since=since,
        assignee="",
        waits_for="the district: the register and the bank's batch to be reconciled by hand",
        due=None,
        reason=Reason.not_reconciled,
        detail=f"the payroll of {month}: the bank paid ¥{difference} more than the register "
        "records as paid (negative: less)",
        actions=[],
    )


def not_registered(*, case_no: str, assistance_type: str, township: str, since: datetime) -> Stuck:
    """A 低保 or 特困 case approved and paid before approvals entered households in the
    register, which the worker could not enter (the account it was paid into is not kept, or a
    member now belongs to another household): its monthly payments wait for a person."""
    return Stuck(
        case_no=case_no,
        kind="application",
        type=assistance_type,
        township=township,
        stage=Stage.approved,
        since=since,
        assignee="",
        waits_for="the district: the household's entry in the register",
        due=None,
        reason=Reason.not_registered,
        detail="approved and paid before the register of recipients; not in it, so no "
        "monthly payroll pays it (the worker's log says why)",
        actions=[],
    )


def review_overdue(
    *,
    number: str,
    assistance_type: str,
    township: str,
    stage: str,
    due: date,
    assignee: str,
    opened: bool,
) -> Stuck:
    """A recipient household's review past its due date: under way and not decided, or not
    even opened (the day's round could not open it)."""
    detail = (
        f"the review was due on {due} and is still at stage {stage}"
        if opened
        else f"the household's periodic review was due on {due} and has not been opened"
    )
    return Stuck(
        case_no=number,
        kind="recipient",
        type=assistance_type,
        township=township,
        stage=stage,
        since=end_of_day(due),
        assignee=assignee,
        waits_for="the review (定期核查) of the recipient household",
        due=end_of_day(due),
        reason=Reason.review_overdue,
        detail=detail,
        actions=[],
    )


def referral_overdue(
    *, referral_no: str, situation: str, department: str, township: str, verify_by: date
) -> Stuck:
    """A referral from another department (部门转介) without an outcome past its date."""
    return Stuck(
        case_no=referral_no,
        kind="referral",
        type=situation,
        township=township,
        stage="open",
        since=end_of_day(verify_by),
        assignee="",
        waits_for=f"the township's verification of the referral from {department}",
        due=end_of_day(verify_by),
        reason=Reason.referral_overdue,
        detail=f"the referral was to be verified by {verify_by} and has no outcome",
        actions=[],
    )


def sweep_overdue_row(*, township: str, last_swept: date | None, due: date) -> Stuck:
    """A township whose sweep of its villages (摸底排查, ``domain.sweeps``) is past due."""
    detail = (
        f"the township has recorded no sweep of its villages; one was due by {due}"
        if last_swept is None
        else f"the township last swept its villages on {last_swept}; the next was due by {due}"
    )
    return Stuck(
        case_no=township,
        kind="sweep",
        type="sweep",
        township=township,
        stage="overdue",
        since=end_of_day(due),
        assignee="",
        waits_for="the township's sweep of its villages (摸底排查)",
        due=end_of_day(due),
        reason=Reason.sweep_overdue,
        detail=detail,
        actions=[],
    )


def check_up_overdue_row(*, entry_id: int, reason: str, township: str, due: date) -> Stuck:
    """A household on the watch list (动态监测, ``domain.watch``) whose check-up is past due:
    a reminder read from the list by date, no workflow behind it."""
    return Stuck(
        case_no=f"watch-{entry_id}",
        kind="watch",
        type=reason,
        township=township,
        stage="watched",
        since=end_of_day(due),
        assignee="",
        waits_for="the township's check-up (回访) of a household on the watch list",
        due=end_of_day(due),
        reason=Reason.check_up_overdue,
        detail=f"its check-up was due by {due}",
        actions=[],
    )


@dataclass(frozen=True)
class Cutoffs:
    """What ``stuck_reasons``' tests on time come down to at one moment, as instants and dates
    a record's columns can be compared with: the database counts and orders the cases not
    moving by them, and only the cases of one page are read (the same rules, not a second
    set)."""

    now: datetime
    today: date
    waited_before: dict[str, datetime]
    """By stage: a case waiting since before this has held it longer than its limit."""
    approval_waited_before: datetime
    """An emergency awaiting approval since before this has waited too many hours."""
    soon_until: date
    """A deadline at the end of a day from today to this one is due soon."""
    payout_soon_until: datetime
    """An emergency's payout due by this instant (and not yet) is due soon."""


def cutoffs(*, now: datetime, calendar: WorkingCalendar, thresholds: Thresholds) -> Cutoffs:
    """``stuck_reasons``' limits at ``now``: a stage held more than its working days from the
    day a case began waiting (``held > limit``), a deadline's day within the due-soon working
    days (counted to the day after it, the day its end falls on), hours for the payout."""
    today = local_date(now)
    waited_before = {}
    for stage, limit in thresholds.stage_working_days.items():
        day, held = today, 0  # working days in (day, today]
        while held <= limit:
            held += calendar.is_working_day(day)
            day -= timedelta(days=1)
        waited_before[str(stage)] = end_of_day(day)  # waiting on ``day`` or before
    ends, ahead = today, 0  # working days in (today, ends]
    while True:
        following = ends + timedelta(days=1)
        if calendar.is_working_day(following):
            if ahead == thresholds.due_soon_working_days:
                break
            ahead += 1
        ends = following
    return Cutoffs(
        now=now,
        today=today,
        waited_before=waited_before,
        approval_waited_before=now - timedelta(hours=thresholds.awaiting_approval_hours),
        soon_until=ends - timedelta(days=1),
        payout_soon_until=now + timedelta(hours=thresholds.due_soon_hours),
    )
