"""The rules of a review of a recipient household (定期核查, and the out-of-cycle review a
reported change opens: 家庭状况变化): a new economic-status report, a household survey (the
same two-investigator rule as at intake), the township's proposal, the district's decision —
each with its deadline in working days. ``ReviewWorkflow`` is the durable shell around them;
the decision itself is written on the household's course by ``store.recipients``.

A review is a case to the code that writes, alerts and waits (``domain.casework.CaseFile``):
its number (核查号) is its ``case_no``.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.benefits import BenefitDecision, Outcome, check_decision
from domain.calendar import SHANGHAI, WorkingCalendar, end_of_day
from domain.cases import (
    SYSTEM,
    Actor,
    Applicant,
    HouseholdMember,
    Role,
    SurveyRecord,
    VerificationReport,
)
from domain.casework import CaseFile, StaffAlert, TimedEvent
from domain.errors import InvalidData, NotPermitted
from domain.months import Month
from domain.policy import Policy
from domain.recipients import RecipientView


class ReviewStage(StrEnum):
    survey = "survey"  # 入户调查 and the economic-status report
    proposal = "proposal"  # 镇(街道)提出意见
    decision = "decision"  # 区民政局决定
    decided = "decided"
    cancelled = "cancelled"
    halted = "halted"


OPEN = (ReviewStage.survey, ReviewStage.proposal, ReviewStage.decision)
WAITS_FOR = {
    ReviewStage.survey: "the household survey (入户调查) and the economic-status report",
    ReviewStage.proposal: "the township's proposal",
    ReviewStage.decision: "the district's decision",
}


class ChangeKind(StrEnum):
    """What the family or the village reports (家庭状况变化)."""

    income_changed = "income_changed"
    member_joined = "member_joined"
    member_left = "member_left"
    member_died = "member_died"
    moved_away = "moved_away"
    other = "other"


class Event(StrEnum):
    review_due_soon = "review_due_soon"
    review_overdue = "review_overdue"


@dataclass(frozen=True)
class ReportedChange:
    """A change in the household, reported by a village coordinator or a township assistant;
    for income, the household's new monthly total."""

    actor: Actor
    kind: str
    happened_on: date
    note: str = ""
    household_income: Decimal | None = None


def check_change(change: ReportedChange, *, began: date, today: date) -> None:
    """What a report needs: a known kind, a date it can have happened on, an income for an
    income change."""
    if change.kind not in ChangeKind.__members__:
        raise InvalidData("kind", f"one of {', '.join(ChangeKind)}")
    if not began <= change.happened_on <= today:
        raise InvalidData("happened_on", f"a change reported happened between {began} and today")
    if change.kind == ChangeKind.income_changed and change.household_income is None:
        raise InvalidData("household_income", "an income change names the new monthly total")
    if change.household_income is not None and change.household_income < 0:
        raise InvalidData("household_income", "income cannot be negative")


@dataclass(frozen=True)
class ReviewStart:
    """What a review opens with: the household as the register has it, its members (the
    approving case's), who opened it and why, and its deadlines."""

    review_no: str
    recipient: RecipientView
    applicant: Applicant
    household: list[HouseholdMember]
    kind: str  # periodic | out_of_cycle
    reason: str
    opened_by: Actor
    opened_at: datetime
    survey_due: date
    decision_due: date
    reminder_on: date
    """Staff are reminded on this day (working days before ``decision_due``)."""
    policy: Policy = field(default_factory=Policy)
    change: ReportedChange | None = None


@dataclass
class ReviewView:
    """A review as its caseworkers see it: stage, deadlines, one timestamp per stage."""

    case_no: str
    """The review's number (核查号)."""
    recipient_no: str
    assistance_type: str
    township: str
    village: str
    applicant_name: str
    household_size: int
    kind: str
    reason: str
    stage: ReviewStage
    opened_at: datetime
    survey_due: date
    decision_due: date
    assignee: str
    changes: list[str] = field(default_factory=list)
    verification: VerificationReport | None = None
    surveyed_at: datetime | None = None
    proposed_at: datetime | None = None
    proposal: str | None = None
    decided_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    amount: Decimal | None = None
    effective_month: str | None = None
    reasons: str | None = None
    overdue: bool = False
    notice_refused: bool = False
    version: int = 0
    stage_since: datetime | None = None
    stage_hours: dict[str, float] = field(default_factory=dict)
    halted_from: ReviewStage | None = None
    reconciled_at: datetime | None = None

    @property
    def review_no(self) -> str:
        return self.case_no


@dataclass(kw_only=True)
class Review(CaseFile):
    """A review from its opening to the district's decision."""

    view: ReviewView
    start: ReviewStart
    proposed: BenefitDecision | None = None
    decision: BenefitDecision | None = None
    surveyed: bool = False
    verification_refused: bool = False
    account: None = None

    open_stages = OPEN
    waits_for = WAITS_FOR

    @classmethod
    def opened(cls, start: ReviewStart) -> "Review":
        household = start.recipient
        view = ReviewView(
            case_no=start.review_no,
            recipient_no=household.recipient_no,
            assistance_type=household.assistance_type,
            township=household.township,
            village=household.village,
            applicant_name=household.applicant_name,
            household_size=household.household_size,
            kind=start.kind,
            reason=start.reason,
            stage=ReviewStage.survey,
            opened_at=start.opened_at,
            survey_due=start.survey_due,
            decision_due=start.decision_due,
            assignee=start.opened_by.user_id,
            stage_since=start.opened_at,
        )
        review = cls(view=view, start=start)
        review.step(start.opened_by, "review_opened", ReviewStage.survey, start.opened_at,
                    note=f"{start.kind}: {start.reason}; due {start.decision_due}")  # fmt: skip
        if start.change is not None:
            review.report_change(start.change, now=start.opened_at)
        return review

    @property
    def started_at(self) -> datetime:
        return self.start.opened_at

    # ---- 家庭状况变化 ---------------------------------------------------------------------

    def check_report(self, change: ReportedChange, *, today: date) -> None:
        self.require(*OPEN)
        check_change(change, began=Month.parse(self.start.recipient.start_month).first_day,
                     today=today)  # fmt: skip

    def report_change(self, change: ReportedChange, *, now: datetime) -> None:
        """The change joins the review. The death of the only member needs no survey: the
        review goes to the district to confirm the end."""
        income = f", household income ¥{change.household_income}" if change.household_income else ""
        text = f"{change.kind} on {change.happened_on}{income}: {change.note}".strip(": ")
        self.view.changes.append(text)
        only_member = self.view.household_size == 1 and change.kind == ChangeKind.member_died
        to_stage = ReviewStage.decision if only_member else self.view.stage
        self.step(change.actor, "change_reported", to_stage, now, note=text)

    # ---- 入户调查 and the report ------------------------------------------------------------

    def check_survey(self, survey: SurveyRecord, *, today: date) -> None:
        self.require(ReviewStage.survey)
        self.check_survey_record(survey, today=today)

    def record_survey(self, survey: SurveyRecord, *, now: datetime) -> None:
        self.surveyed = True
        self.note_survey(survey, "surveyed", self.view.stage, now)
        self._survey_complete(survey.actor, now)

    def receive_verification(self, report: VerificationReport, *, now: datetime) -> None:
        self.view.verification = report
        self.step(SYSTEM, "verification_report_received", self.view.stage, now,
                  note=f"report {report.report_id}")  # fmt: skip
        self._survey_complete(self.survey.actor if self.survey else SYSTEM, now)

    def platform_refused(self, reason: str, *, now: datetime) -> StaffAlert:
        """The platform refused the request for good: the survey's findings carry the review."""
        self.verification_refused = True
        self._survey_complete(SYSTEM, now)
        return StaffAlert(
            "verification_refused",
            f"the verification platform refused review {self.view.case_no}'s request: {reason}",
        )

    def _survey_complete(self, actor: Actor, now: datetime) -> None:
        reported = self.view.verification is not None or self.verification_refused
        if self.view.stage == ReviewStage.survey and self.surveyed and reported:
            self.view.surveyed_at = now
            self.step(actor, "survey_completed", ReviewStage.proposal, now)

    # ---- the township's proposal and the district's decision -----------------------------

    def check_proposal(self, proposal: BenefitDecision, *, now: datetime) -> None:
        self.require(ReviewStage.proposal)
        if proposal.actor.role not in (Role.township_assistant, Role.district_officer):
            raise NotPermitted("the township proposes (a township assistant)")
        check_decision(self.start.recipient, proposal, now=now, policy=self.start.policy)

    def record_proposal(self, proposal: BenefitDecision, *, now: datetime) -> None:
        self.proposed = proposal
        self.view.proposal, self.view.proposed_at = proposal.outcome, now
        self.step(proposal.actor, "proposed", ReviewStage.decision, now,
                  note=f"{proposal.outcome}: {proposal.reasons}")  # fmt: skip

    def check_decision(self, decision: BenefitDecision, *, now: datetime) -> None:
        """The district decides once the township has proposed (or, the only member dead,
        confirms the end)."""
        self.require(ReviewStage.decision)
        if decision.actor.role != Role.district_officer:
            raise NotPermitted("the district civil-affairs bureau decides (a district officer)")
        if self.proposed is None and decision.outcome not in (Outcome.terminate, Outcome.revoke):
            raise InvalidData(
                "outcome",
                f"review {self.view.case_no} has no survey: the only member's death is "
                "confirmed by ending the benefit (terminate)",
            )
        check_decision(self.start.recipient, decision, now=now, policy=self.start.policy)

    def decide(self, decision: BenefitDecision, month: Month, *, now: datetime) -> None:
        """The decision, as the register wrote it (from ``month``), on the review's record."""
        view = self.view
        self.decision = decision
        view.outcome, view.reasons, view.effective_month = (
            decision.outcome,
            decision.reasons,
            str(month),
        )
        view.amount = decision.amount
        view.decided_at = view.closed_at = now
        self.step(decision.actor, "decided", ReviewStage.decided, now,
                  note=f"{decision.outcome} from {month}: {decision.reasons}")  # fmt: skip

    @property
    def tells_family(self) -> bool:
        """A suspension, phase-out or end is told to the family with its reasons."""
        return self.decision is not None and self.decision.outcome in (
            Outcome.suspend, Outcome.phase_out, Outcome.terminate, Outcome.revoke,
        )  # fmt: skip

    # ---- timed events ---------------------------------------------------------------------

    def events(self) -> list[TimedEvent]:
        """The reminder before the review is due and its breach, while it is open."""
        if self.closed:
            return []
        remind = datetime.combine(self.start.reminder_on, time(9), SHANGHAI)
        due = end_of_day(self.view.decision_due) + timedelta(seconds=1)
        return [
            TimedEvent(Event.review_due_soon, remind, f"{Event.review_due_soon}:{self.start.reminder_on}"),
            TimedEvent(Event.review_overdue, due, f"{Event.review_overdue}:{self.view.decision_due}"),
        ]  # fmt: skip

    def fire(self, event: TimedEvent, *, now: datetime) -> StaffAlert | None:
        view = self.view
        if event.kind == Event.review_overdue:
            view.overdue = True
            message = (
                f"review {view.case_no} of household {view.recipient_no} was due on "
                f"{view.decision_due} and is still at stage {view.stage.value}"
            )
        else:
            message = (
                f"review {view.case_no} of household {view.recipient_no} is due on "
                f"{view.decision_due} (stage {view.stage.value})"
            )
        return StaffAlert(event.kind, message, key=event.key)

    def check_reverify(self) -> None:
        raise InvalidData("action", "a review asks the platform itself")

    def check_reopen(self, to_stage: str) -> None:
        raise InvalidData("action", "a review is not reopened: a new review is opened")


def review_dates(
    *, opened_on: date, due: date | None, policy: Policy, calendar: WorkingCalendar
) -> tuple[date, date, date]:
    """A review's survey deadline, its decision deadline (the periodic review's due date, or
    working days after an out-of-cycle one's opening) and the day staff are reminded (working
    days before it), on the holiday calendar."""
    decision_due = (
        due or calendar.add_working_days(opened_on, policy.review_decision_working_days)[0]
    )
    survey_due = min(
        calendar.add_working_days(opened_on, policy.review_survey_working_days)[0], decision_due
    )
    reminder = decision_due
    while (
        reminder > opened_on
        and calendar.working_days_between(reminder, decision_due)
        < policy.deadline_warning_working_days
    ):
        reminder -= timedelta(days=1)
    return survey_due, decision_due, reminder


def opening_horizon(*, today: date, policy: Policy, calendar: WorkingCalendar) -> date:
    """Periodic reviews due up to this day open today."""
    return calendar.add_working_days(today, policy.review_opens_working_days)[0]
