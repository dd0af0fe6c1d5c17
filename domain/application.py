"""The rules of an application (低保, 特困, 临时救助): which action is allowed at which stage, what
it changes, and which timed events remain. ``ApplicationWorkflow`` is the durable shell that
calls them, waits, writes the records, pays and texts.

Each action has a check (raises a ``domain.errors`` refusal, changes nothing) and a change
(moves the case and puts its steps on the record). ``now`` is always given: these functions
never read a clock.
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.amounts import application_amount
from domain.calendar import end_of_day, local_date
from domain.cases import (
    OPEN_STAGES,
    PROCEDURE,
    SYSTEM,
    Actor,
    AssistanceType,
    BankAccount,
    BankAccountRecord,
    CaseStart,
    CaseView,
    DecisionRecord,
    DocumentsReceipt,
    DocumentsRequest,
    ObjectionRecord,
    PaymentAttempt,
    Person,
    ReviewRecord,
    Role,
    Stage,
    SurveyRecord,
    VerificationReport,
    WatchPlan,
    WithdrawalRecord,
    initial_view,
)
from domain.casework import (
    After,
    CaseFile,
    StaffAlert,
    TimedEvent,
)
from domain.contracts import VerificationRequest
from domain.deadlines import DeadlineFacts, Deadlines, Pause
from domain.errors import InvalidData, NotPermitted, WrongStage
from domain.months import Month
from domain.recipients import STANDING_TYPES
from domain.tekun import (
    check_care,
    check_eligibility,
    check_institution_holder,
    check_no_care,
    check_survey_facts,
    institution_payee,
    self_care_of,
)
from domain.verification import verification_findings
from domain.watch import watch_after_decision

WAITS_FOR = {
    Stage.survey: "the household survey (入户调查) and the economic-status verification report",
    Stage.review: "the township review (初审)",
    Stage.notice: "the end of the public notice (公示)",
    Stage.decision: "the district's decision (审核确认)",
    Stage.awaiting_documents: "the applicant's supplementary documents (补正材料)",
}
PAUSABLE = (Stage.survey, Stage.review, Stage.decision)
REOPENABLE = (Stage.review, Stage.notice, Stage.decision)


class Event(StrEnum):
    """The timed events of an application."""

    survey_overdue = "survey_overdue"
    decision_approaching = "decision_approaching"
    decision_overdue = "decision_overdue"
    strict_decision_approaching = "strict_decision_approaching"
    strict_decision_overdue = "strict_decision_overdue"
    notice_ended = "notice_ended"
    refusal_notice_overdue = "refusal_notice_overdue"


@dataclass(kw_only=True)
class Application(CaseFile):
    """An application from acceptance (受理) to its outcome: everything its rules look at."""

    view: CaseView
    start: CaseStart
    deadlines: Deadlines
    pauses: list[Pause] = field(default_factory=list)
    decision: DecisionRecord | None = None
    refused_on: date | None = None
    publicised: bool = False
    """Whether the proposal now before the district has been through public notice."""
    acknowledged: bool = False
    """The acceptance SMS went out (or the SMS system refused it, which is on the record)."""
    bank_account: BankAccount | None = None
    """Recorded after intake (or corrected): it replaces the one given at intake."""
    refused_attempt: int = 0
    """The payment attempt the payment system refused for good, if any."""
    verification_attempt: int = 1
    """A supervisor may ask the platform again after a refusal (a new request, a new key)."""
    resurvey_from: date | None = None
    """The day an objection sent the case back to survey: the new survey's deadline counts
    from it (None for an objection recorded before patch
    ``survey-deadline-after-objection``)."""
    verification_refused: bool = False
    strict_deadline: bool = False
    """The strict decision date's reminder and breach are timed events: for a case whose
    intake counted that date (one accepted before it did replays without them)."""

    open_stages = OPEN_STAGES
    waits_for = WAITS_FOR

    @classmethod
    def accepted(cls, start: CaseStart) -> "Application":
        return cls(
            start=start,
            view=initial_view(start),
            deadlines=start.deadlines,
            strict_deadline=start.deadlines.strict_decision_due is not None,
        )

    @property
    def started_at(self) -> datetime:
        return self.start.accepted_at

    # ---- 入户调查 ---------------------------------------------------------------------------

    def check_survey(self, survey: SurveyRecord, *, today: date) -> None:
        self.require(Stage.survey)
        if self.start.conflict_of_interest and survey.actor.role != Role.district_officer:
            raise NotPermitted(
                "this case is recorded as a conflict of interest (近亲属备案): "
                "the district civil-affairs bureau must do the survey"
            )
        self.check_survey_record(survey, today=today)
        check_survey_facts(survey)

    def record_survey(self, survey: SurveyRecord, *, now: datetime) -> None:
        """The visit, not the day it is typed in, meets the survey-start deadline."""
        self.view.assignee = survey.actor.user_id
        self.view.survey_overdue = survey.visited_on > self.deadlines.survey_due
        self.view.visited_on = survey.visited_on
        self.note_survey(survey, "survey_recorded", self.view.stage, now)
        self._survey_complete(survey.actor, now)

    @property
    def verification_request(self) -> VerificationRequest:
        """家庭经济状况核对 of everyone in the household (a new attempt after a refusal)."""
        start = self.start
        return VerificationRequest(
            case_no=start.case_no, members=self.people, attempt=self.verification_attempt
        )

    def platform_refused(self, reason: str) -> StaffAlert:
        """The verification platform refused the request for good: a supervisor may ask it
        again (reverify)."""
        self.verification_refused = self.view.verification_refused = True
        return StaffAlert("verification_refused", f"verification platform refused: {reason}")

    def receive_verification(self, report: VerificationReport, *, now: datetime) -> None:
        """家庭经济状况核对报告 from the platform."""
        self.view.verification = report
        self.step(
            SYSTEM,
            "verification_report_received",
            self.view.stage,
            now,
            note=f"report {report.report_id}",
        )
        self._survey_complete(self.survey.actor if self.survey else SYSTEM, now)

    def _survey_complete(self, actor: Actor, now: datetime) -> None:
        """The case leaves survey once both the survey and the verification report are in;
        what the report contradicts in the survey is shown on the case."""
        self._compare_report(now)
        if self.view.stage == Stage.survey and self.survey and self.view.verification:
            self.step(actor, "survey_completed", Stage.review, now)

    def _compare_report(self, now: datetime) -> None:
        report, survey, start = self.view.verification, self.survey, self.start
        if report is None or survey is None:
            return
        standard = start.policy.dibao_standard(local_date(now).year)
        self.view.verification_findings = verification_findings(
            report,
            assessed_income=survey.assessed_monthly_income,
            household_size=self.view.household_size,
            standard=standard.urban if start.area == "urban" else standard.rural,
            policy=start.policy,
        )

    # ---- 初审 and 公示 --------------------------------------------------------------------

    def check_review(self, review: ReviewRecord, *, now: datetime) -> None:
        self.require(Stage.review)
        if review.recommendation not in ("approve", "refuse"):
            raise InvalidData("recommendation", "must be 'approve' or 'refuse'")
        if not review.reasons.strip():
            raise InvalidData("reasons", "a review gives its reasons")
        if review.recommendation == "approve":
            self.amount(review, now=now, field="recommendation")

    def record_review(self, review: ReviewRecord, *, now: datetime) -> None:
        self.review = review
        self.publicised = False
        self.view.reviewed_at = now
        approve = review.recommendation == "approve"
        self.view.monthly_amount = (
            self.amount(review, now=now, field="recommendation") if approve else None
        )
        # Only a proposed approval is published (公示); a proposed refusal goes to the district.
        if approve:
            self._start_notice(now)
        to_stage = Stage.notice if approve else Stage.decision
        self.step(
            review.actor, f"review_{review.recommendation}", to_stage, now, note=review.reasons
        )

    def check_objection(self, objection: ObjectionRecord) -> None:
        self.require(Stage.notice)
        if not objection.grounds.strip():
            raise InvalidData("grounds", "an objection states its grounds")
        if not objection.raised_by.strip():
            raise InvalidData("raised_by", "say who raised the objection")

    def record_objection(self, objection: ObjectionRecord, *, now: datetime) -> None:
        """An objection (异议) sends the case back to be surveyed again; the notice restarts later."""
        self.view.objections += 1
        self.survey = self.review = None
        self.publicised = False
        self.view.surveyed_at = self.view.visited_on = None
        self.view.notice_ends_at = None
        self.view.monthly_amount = None  # no proposal stands until the next review
        self.step(
            objection.actor,
            "objection_received",
            Stage.survey,
            now,
            note=f"raised by {objection.raised_by}: {objection.grounds}",
        )

    def restart_survey_clock(self, *, now: datetime) -> None:
        """After an objection the new survey has its own deadline, counted from today."""
        self.resurvey_from = local_date(now)
        self.view.survey_overdue = False

    def _start_notice(self, now: datetime) -> None:
        self.view.notice_started_at = now
        self.view.notice_ends_at = now + timedelta(days=self.start.policy.notice_calendar_days)

    # ---- 审核确认 -------------------------------------------------------------------------

    def check_decision(
        self, decision: DecisionRecord, *, now: datetime, tekun: bool = True, mismatch: bool = True
    ) -> None:
        """``tekun`` False: the rules before patch ``tekun-eligibility`` (a 特困 approval made
        then, replayed by its workflow), which checked neither eligibility nor care.
        ``mismatch`` False: before patch ``mismatch-reason``, an approval against the
        verification findings needed no reason of its own."""
        self.require(Stage.decision)
        if decision.outcome not in ("approve", "refuse"):
            raise InvalidData("outcome", "must be 'approve' or 'refuse'")
        if not decision.reasons.strip():
            raise InvalidData("reasons", "a decision gives its reasons")
        chosen = decision.amount is not None or decision.exception_reason is not None
        if chosen and self.start.assistance_type != "temporary":
            raise InvalidData(
                "amount", "低保 and 特困 amounts follow from the standard, not a choice"
            )
        if decision.exception_reason is not None and not decision.exception_reason.strip():
            raise InvalidData("exception_reason", "一事一议 states its reason")
        if decision.exception_reason is not None and decision.actor.role != Role.district_officer:
            # where 审核确认 is delegated to the townships (``decision_by``), 一事一议 stays the district's
            raise NotPermitted("一事一议 is a district officer's decision")
        if not self.tekun_approval(decision):
            check_no_care(decision)
        if decision.mismatch_reason is not None and not decision.mismatch_reason.strip():
            raise InvalidData("mismatch_reason", "say why the findings do not stand in the way")
        if decision.outcome != "approve":
            return
        if mismatch and self.against_findings(decision) and decision.mismatch_reason is None:
            raise InvalidData(
                "mismatch_reason",
                "the verification report contradicts the survey ("
                + "; ".join(self.view.verification_findings)
                + "): an approval against it gives its reason",
            )
        if self.approval_needs_notice(decision):
            self.amount(self._district_proposal(decision), now=now, field="outcome")
        else:
            self.amount(self.review, now=now, field="outcome")
        if self.tekun_approval(decision) and tekun:
            self.check_tekun(decision, now=now)

    def against_findings(self, decision: DecisionRecord) -> bool:
        """An approval of a case whose verification report contradicts its survey."""
        return decision.outcome == "approve" and bool(self.view.verification_findings)

    def tekun_approval(self, decision: DecisionRecord) -> bool:
        return decision.outcome == "approve" and self.start.assistance_type == AssistanceType.tekun

    def check_tekun(self, decision: DecisionRecord, *, now: datetime) -> None:
        """特困: the applicant is eligible by what the survey found, and the approval names the
        care form and self-care (``domain.tekun``)."""
        start = self.start
        check_eligibility(
            person=start.applicant, survey=self.survey, today=local_date(now), policy=start.policy
        )
        check_care(decision, survey=self.survey)

    def approval_needs_notice(self, decision: DecisionRecord) -> bool:
        """Only a publicised proposal may be approved (审核确认办法 Art. 19): a proposed refusal,
        or an amount other than the one publicised (一事一议, say), is publicised first."""
        if decision.outcome != "approve":
            return False
        publicised = self.view.monthly_amount
        return not self.publicised or (
            decision.amount is not None and decision.amount != publicised
        )

    def propose_approval(self, decision: DecisionRecord, *, now: datetime) -> None:
        """The district approves a proposed refusal: that approval becomes the proposal, and
        goes to public notice before the district can confirm it."""
        self.review = self._district_proposal(decision)
        self.view.monthly_amount = self.amount(self.review, now=now, field="outcome")
        self._start_notice(now)
        self.step(
            decision.actor,
            "approval_proposed_by_district",
            Stage.notice,
            now,
            note=decision.reasons,
        )

    def decide(self, decision: DecisionRecord, *, now: datetime) -> After | None:
        """Approve or refuse. A refusal's written-notice deadline is counted afterwards."""
        approve = decision.outcome == "approve"
        self.view.monthly_amount = (
            self.amount(self.review, now=now, field="outcome") if approve else None
        )
        self.decision = decision
        self.view.decided_at = self.view.closed_at = now
        self.view.watch = self._watch_plan(decision, now)
        if approve and decision.care_form:
            self._take_care(decision)
        if approve:
            self.step(decision.actor, "approved", Stage.approved, now, note=decision.reasons)
            self._note_mismatch(decision, now)
        else:
            self.refused_on = local_date(now)
            self.step(decision.actor, "refused", Stage.refused, now, note=decision.reasons)
            return After(recount=True)
        return None

    def _watch_plan(self, decision: DecisionRecord, now: datetime) -> WatchPlan | None:
        """动态监测 after the decision (``domain.watch.watch_after_decision``)."""
        start, survey = self.start, self.survey
        per_person = None
        if survey is not None:
            income = survey.assessed_monthly_income / self.view.household_size
            per_person = income.quantize(Decimal("0.01"))
        standard = start.policy.dibao_standard(local_date(now).year)
        return watch_after_decision(
            assistance_type=start.assistance_type, outcome=decision.outcome,
            income_per_person=per_person,
            standard=standard.urban if start.area == "urban" else standard.rural,
            recipient=start.recipient_no is not None, on=local_date(now), policy=start.policy,
        )  # fmt: skip

    def _note_mismatch(self, decision: DecisionRecord, now: datetime) -> None:
        """Approved against the verification findings: the reason, and what it answers, on
        the record."""
        if decision.outcome == "approve" and decision.mismatch_reason:
            findings = "; ".join(self.view.verification_findings)
            note = f"{decision.mismatch_reason.strip()} (findings: {findings})"
            self.step(decision.actor, "approved_against_verification", self.view.stage, now,
                      note=note)  # fmt: skip

    def _take_care(self, decision: DecisionRecord) -> None:
        """特困: the care form and self-care on the case; in centralised care the institution's
        account is the one paid from now on (the person's own, if any, stays with the intake)."""
        view = self.view
        view.care_form, view.self_care = decision.care_form, self_care_of(decision, self.survey)
        if decision.institution is not None:
            view.institution = decision.institution.name
            self.bank_account = decision.institution.account
            view.bank_account = self.bank_account.masked

    def _district_proposal(self, decision: DecisionRecord) -> ReviewRecord:
        amount = decision.amount
        if amount is None and self.review:
            amount = self.review.amount
        return ReviewRecord(
            actor=decision.actor,
            recommendation="approve",
            reasons=decision.reasons,
            amount=amount,
            exception_reason=decision.exception_reason,
        )

    def amount(self, proposal: ReviewRecord | None, *, now: datetime, field: str) -> Decimal:
        """What the approval pays, by the standards of the year it is approved in."""
        return application_amount(
            assistance_type=self.start.assistance_type,
            area=self.start.area,
            expense=self.start.expense,
            household_size=self.view.household_size,
            assessed_income=self.survey.assessed_monthly_income if self.survey else Decimal(0),
            proposed=proposal.amount if proposal else None,
            policy=self.start.policy,
            year=local_date(now).year,
            field=field,
            exception=bool(proposal and proposal.exception_reason),
        )

    # ---- 补正, withdrawal ------------------------------------------------------------------

    def check_documents_request(self, request: DocumentsRequest) -> None:
        self.require(*PAUSABLE)
        if not [d for d in request.documents if d.strip()]:
            raise InvalidData("documents", "name the documents the applicant must bring")

    def request_documents(self, request: DocumentsRequest, *, now: datetime) -> None:
        """The deadline clock pauses until the documents arrive."""
        self.view.paused_from = self.view.stage
        self.view.pending_documents = [d.strip() for d in request.documents if d.strip()]
        self.pauses.append(Pause(started_on=local_date(now)))
        note = f"{'; '.join(self.view.pending_documents)}. {request.note}".strip()
        self.step(request.actor, "documents_requested", Stage.awaiting_documents, now, note=note)

    def check_documents_receipt(self, receipt: DocumentsReceipt) -> None:
        self.require(Stage.awaiting_documents)

    def receive_documents(self, receipt: DocumentsReceipt, *, now: datetime) -> After:
        """The case resumes where it paused; its deadlines are counted again afterwards."""
        resumed = self.view.paused_from or Stage.survey
        self._end_pause(now)
        self.view.paused_from = None
        self.view.pending_documents = []
        self.step(receipt.actor, "documents_received", resumed, now, note=receipt.note)
        self._survey_complete(receipt.actor, now)
        return After(recount=True)  # the pause moves them

    def check_withdrawal(self, withdrawal: WithdrawalRecord) -> None:
        self.require(*OPEN_STAGES)
        if not withdrawal.reason.strip():
            raise InvalidData("reason", "record why the application is withdrawn")

    def withdraw(self, withdrawal: WithdrawalRecord, *, now: datetime) -> None:
        self._leave_pause(now)
        self.view.closed_at = now
        self.step(withdrawal.actor, "withdrawn", Stage.withdrawn, now, note=withdrawal.reason)

    def _end_pause(self, now: datetime) -> None:
        self.pauses[-1] = replace(self.pauses[-1], ended_on=local_date(now))

    def _leave_pause(self, now: datetime) -> None:
        """Closed while it waited for documents: the pause ends, nothing is pending."""
        if self.view.stage == Stage.awaiting_documents:
            self._end_pause(now)
            self.view.paused_from, self.view.pending_documents = None, []

    # ---- 督办: a supervisor's interventions ---------------------------------------------

    def check_reverify(self) -> None:
        if not self.verification_refused:
            raise WrongStage(
                f"case {self.view.case_no}'s verification was not refused: there is nothing to "
                "ask again"
            )
        self.require(*OPEN_STAGES)

    def check_reopen(self, to_stage: str) -> None:
        self.require(*REOPENABLE)
        earlier = PROCEDURE[: PROCEDURE.index(self.view.stage)]
        if to_stage not in (Stage.survey, Stage.review) or to_stage not in earlier:
            allowed = " or ".join(s for s in earlier if s in (Stage.survey, Stage.review))
            raise InvalidData("to_stage", f"case {self.view.case_no} can go back to {allowed}")

    def reverify(self, actor: Actor, *, now: datetime, reason: str) -> After:
        """The platform is asked again, under a new key."""
        self.verification_refused = self.view.verification_refused = False
        self.verification_attempt += 1
        self.step(actor, "reverification_requested", self.view.stage, now, note=reason)
        return After(reverify=True)

    def reopen(self, actor: Actor, to_stage: str, *, now: datetime, reason: str) -> After:
        """容错纠错: back to review or survey, the proposal gone; back to survey, the survey
        too, and the deadlines are counted again."""
        view, stage = self.view, Stage(to_stage)
        self.review, self.publicised = None, False
        view.monthly_amount = view.notice_ends_at = None
        if stage == Stage.survey:
            self.survey = None
            view.surveyed_at = view.visited_on = None
            self.resurvey_from = local_date(now)
        self.step(actor, "reopened", stage, now, note=reason)
        return After(recount=stage == Stage.survey)

    def cancel(self, actor: Actor, *, now: datetime, reason: str) -> None:
        self._leave_pause(now)
        super().cancel(actor, now=now, reason=reason)

    # ---- deadlines ---------------------------------------------------------------------

    def deadline_facts(self) -> DeadlineFacts:
        """What the deadlines are counted from (the calendar itself lives in the database)."""
        return DeadlineFacts(
            accepted_on=local_date(self.start.accepted_at),
            policy=self.start.policy,
            pauses=list(self.pauses),
            refused_on=self.refused_on,
            resurvey_from=self.resurvey_from,
            extension_working_days=self.view.extended_working_days,
        )

    def count_deadlines(
        self,
        deadlines: Deadlines,
        *,
        now: datetime,
        actor: Actor = SYSTEM,
        action: str | None = None,
    ) -> None:
        """Take freshly counted deadlines; with an ``action``, a move goes on the record."""
        view, d = self.view, deadlines
        before = (view.survey_due, view.decision_due, view.refusal_notice_due, view.provisional)
        self.deadlines = d
        view.survey_due, view.decision_due = d.survey_due, d.decision_due
        view.refusal_notice_due, view.provisional = d.refusal_notice_due, d.provisional
        view.paused_working_days = d.paused_working_days
        # Missed: when its event fired for the date now in force (moved back to a date already
        # missed, it is missed again), or when it was missed and the date it moved to is past.
        view.survey_overdue = (
            self.survey.visited_on > d.survey_due
            if self.survey
            else self._missed(Event.survey_overdue, d.survey_due, view.survey_overdue, now)
        )
        view.decision_overdue = self._missed(
            Event.decision_overdue, d.decision_due, view.decision_overdue, now
        )
        view.refusal_notice_overdue = self._missed(
            Event.refusal_notice_overdue, d.refusal_notice_due, view.refusal_notice_overdue, now
        )
        if d.strict_decision_due is not None:
            view.strict_decision_due = d.strict_decision_due
            view.strict_decision_overdue = self._missed(
                Event.strict_decision_overdue,
                d.strict_decision_due,
                view.strict_decision_overdue,
                now,
            )
        after = (d.survey_due, d.decision_due, d.refusal_notice_due, d.provisional)
        if action and before != after:
            note = f"survey due {deadlines.survey_due}, decision due {deadlines.decision_due}"
            self.step(
                actor,
                action,
                self.view.stage,
                now,
                note=note + (" (provisional)" if deadlines.provisional else ""),
            )

    # ---- timed events --------------------------------------------------------------------

    def events(self) -> list[TimedEvent]:
        """The timed events of the case's present stage, fired or not."""
        view, d = self.view, self.deadlines
        events: list[TimedEvent] = []

        def at_end_of(kind: Event, day: date) -> None:
            events.append(TimedEvent(kind, end_of_day(day), _key(kind, day)))

        first_round_or_counted = view.objections == 0 or self.resurvey_from is not None
        if view.stage == Stage.survey and view.surveyed_at is None and first_round_or_counted:
            at_end_of(Event.survey_overdue, d.survey_due)
        if view.stage in PAUSABLE or view.stage == Stage.notice:
            at_end_of(Event.decision_approaching, d.decision_warning_on)
            at_end_of(Event.decision_overdue, d.decision_due)
        undecided = (*PAUSABLE, Stage.notice, Stage.awaiting_documents)
        if self.strict_deadline and d.strict_decision_due and view.stage in undecided:
            # Never paused: it runs on while the case waits for documents. Where it falls with
            # the decision's own date, that date's reminder and breach say it.
            timed = view.stage in PAUSABLE or view.stage == Stage.notice
            if d.strict_warning_on and not (timed and d.strict_warning_on == d.decision_warning_on):
                at_end_of(Event.strict_decision_approaching, d.strict_warning_on)
            if not (timed and d.strict_decision_due == d.decision_due):
                at_end_of(Event.strict_decision_overdue, d.strict_decision_due)
        if view.stage == Stage.notice and view.notice_ends_at:
            ends = view.notice_ends_at
            events.append(
                TimedEvent(Event.notice_ended, ends, f"{Event.notice_ended}:{ends.isoformat()}")
            )
        if (
            view.stage == Stage.refused
            and view.refusal_notified_at is None
            and d.refusal_notice_due
        ):
            at_end_of(Event.refusal_notice_overdue, d.refusal_notice_due)
        return events

    def fire(self, event: TimedEvent, *, now: datetime) -> StaffAlert | None:
        """What a timed event does: the notice ends, or staff are reminded of a deadline or
        told it was missed (which decides nothing)."""
        d = self.deadlines
        match event.kind:
            case Event.notice_ended:
                self.publicised = True
                self.step(SYSTEM, "notice_ended", Stage.decision, now, note="no objection")
                return None
            case Event.survey_overdue:
                self.view.survey_overdue = True
                message = f"household survey was due to start by {d.survey_due}"
            case Event.decision_approaching:
                if self.strict_deadline and d.strict_warning_on == d.decision_warning_on:
                    # the strict date's reminder, said by this one: not said again later
                    self.fired.append(_key(Event.strict_decision_approaching, d.strict_warning_on))
                warning = self.start.policy.deadline_warning_working_days
                message = f"decision due {d.decision_due}; {warning} working days remain"
            case Event.decision_overdue:
                self.view.decision_overdue = True
                if self.strict_deadline and d.strict_decision_due == d.decision_due:
                    # the same day, strictly counted: recorded, and not told again later
                    self.view.strict_decision_overdue = True
                    self.fired.append(_key(Event.strict_decision_overdue, d.strict_decision_due))
                message = f"decision was due by {d.decision_due}"
            case Event.strict_decision_approaching:
                warning = self.start.policy.deadline_warning_working_days
                message = (
                    f"decision due by {d.strict_decision_due} counted strictly from acceptance "
                    f"(pauses and extensions aside); {warning} working days "
                    "remain"
                )
            case Event.strict_decision_overdue:
                self.view.strict_decision_overdue = True
                message = (
                    f"the decision was due by {d.strict_decision_due} counted strictly from "
                    "acceptance (审批期限应严格控制在20个工作日以内)"
                )
            case Event.refusal_notice_overdue:
                self.view.refusal_notice_overdue = True
                message = f"written refusal was due by {d.refusal_notice_due}"
            case _:
                raise ValueError(f"an application has no timed event {event.kind!r}")
        return StaffAlert(event.kind, message, key=event.key)

    def _missed(self, kind: Event, day: date | None, was: bool, now: datetime) -> bool:
        if day is None:
            return False
        return _key(kind, day) in self.fired or (was and end_of_day(day) <= now)

    # ---- outcome -------------------------------------------------------------------------

    @property
    def account(self) -> BankAccount | None:
        return self.bank_account or self.start.bank_account

    @property
    def payee(self) -> Person:
        """In centralised care (集中供养) the institution, for the person; else the holder."""
        if self.view.institution:
            return institution_payee(self.view.institution, self.start.applicant)
        return super().payee

    def check_account_holder(self, account: BankAccount) -> None:
        if self.view.institution:
            check_institution_holder(account, institution=self.view.institution)
        else:
            super().check_account_holder(account)

    @property
    def payment_key(self) -> str:
        return first_payment_key(self.view.case_no, self.view.payment_attempt)

    @property
    def registers_household(self) -> bool:
        """An approved 低保 or 特困 household enters the register before its first payment,
        which is the payroll's item of the month of its approval."""
        return self.view.stage == Stage.approved and self.start.assistance_type in STANDING_TYPES

    @property
    def payroll_month(self) -> str | None:
        """The month the first payment pays, for a household in the register."""
        decided = self.view.decided_at
        return str(Month.at(decided)) if self.view.recipient_no and decided else None

    @property
    def transfer_under_way(self) -> bool:
        view = self.view
        return (
            view.stage == Stage.approved
            and view.first_payment_at is None
            and self.account is not None
            and not view.awaiting_bank_account
        )

    @property
    def waits_for_account(self) -> bool:
        """Approved and not paid: with no transfer under way, it waits for an account (none
        was given, or the payment system refused the last)."""
        view = self.view
        return view.stage == Stage.approved and view.first_payment_at is None

    def record_bank_account(self, record: BankAccountRecord, *, now: datetime) -> None:
        """A new account; after a refused transfer, the payment is made again as a new attempt."""
        self.bank_account = record.account
        self.view.bank_account = record.account.masked
        if self.refused_attempt == self.view.payment_attempt:
            self.view.payment_attempt += 1
        self.view.awaiting_bank_account = False
        self.step(
            record.actor, "bank_account_recorded", self.view.stage, now, note=record.account.masked
        )

    def needs_bank_account(self, *, now: datetime) -> StaffAlert:
        """Approved with no account to pay into: the caseworker records one."""
        self.view.awaiting_bank_account = True
        return StaffAlert(
            "bank_account_needed",
            f"case {self.view.case_no} is approved (¥{self.view.monthly_amount}); record the "
            "family's bank account to pay it",
        )

    def payment_refused(self, reason: str, *, now: datetime) -> StaffAlert:
        """Refused for good (closed account, name mismatch): a corrected account is needed."""
        self.view.awaiting_bank_account = True
        self.refused_attempt = self.view.payment_attempt
        self.view.payments.append(self._payment("refused", now, reason=reason))
        return StaffAlert(
            "payment_refused",
            f"payment system refused: {reason}; record the family's corrected bank account",
            key=f"payment_refused:{self.view.payment_attempt}",
        )

    def first_payment_made(self, transfer_id: str, *, now: datetime) -> None:
        self.view.first_payment_at = now
        self.view.payments.append(self._payment("settled", now, transfer_id=transfer_id))
        self.step(
            SYSTEM, "first_payment_made", self.view.stage, now, note=f"transfer {transfer_id}"
        )

    def _payment(self, status: str, now: datetime, **details: str) -> PaymentAttempt:
        """A transfer of the first payment, as the case shows it (the account masked)."""
        return PaymentAttempt(
            attempt=self.view.payment_attempt,
            amount=self.view.monthly_amount or Decimal(0),
            account=self.account.masked if self.account else "",
            status=status,
            at=now,
            **details,
        )

    def refusal_notice_sent(self, *, now: datetime) -> None:
        self.view.refusal_notified_at = now
        reasons = self.decision.reasons if self.decision else ""
        self.step(SYSTEM, "refusal_notice_sent", self.view.stage, now, note=reasons)


def first_payment_key(case_no: str, attempt: int) -> str:
    """The first payment's idempotency key, from the case and the attempt (never from a run)."""
    return f"{case_no}:first-payment" + (f":{attempt}" if attempt > 1 else "")


def _key(kind: Event, day: date) -> str:
    """An event's occurrence: its kind and the date it belongs to."""
    return f"{kind}:{day}"
