"""ReviewWorkflow: one review of a recipient household (定期核查, or the one a reported change
opens), from its opening to the district's decision and the family told of it.

The durable shell around ``domain.reviews`` (``workflows.casework.CaseWorkflow``); the decision
is written on the household's course by an activity, which checks it again under the
household's lock, so the payroll of its month pays what it says.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.benefits import BenefitDecision
    from domain.calendar import local_date
    from domain.cases import SurveyRecord, VerificationReport
    from domain.contracts import Activity, ReviewRound, ReviewRuling, VerificationRequest
    from domain.months import Month
    from domain.notices import benefit_decision_text
    from domain.reviews import ReportedChange, Review, ReviewStart, ReviewView
    from workflows.casework import CaseWorkflow, reads
    from workflows.dealings import EXTERNAL, QUICK
    from workflows.errors import check
    from workflows.search import review_search_attributes


@workflow.defn
class ReviewWorkflow(CaseWorkflow):
    case: Review
    current, state = reads(ReviewView, Review)

    @workflow.init
    def __init__(self, case: ReviewStart | Review) -> None:
        """A review just opened, or one carried over from the run before (continue-as-new)."""
        case = case if isinstance(case, Review) else Review.opened(case)
        super().__init__(case, search_attributes=review_search_attributes)
        self._verification: asyncio.Task[None] | None = None
        self._told: asyncio.Task[None] | None = None

    @workflow.run
    async def run(self, case: ReviewStart | Review) -> ReviewView:
        if self.case.unwritten:  # its opening on the record at once
            await self.record(lambda: None)
        if self.case.view.verification is None:
            self._verification = self.call(self._verify_household())
        return await self.follow()

    # ---- caseworker actions ----------------------------------------------------------

    @workflow.update
    async def report_change(self, change: ReportedChange) -> ReviewView:
        return await self.apply(self._check_change, self.case.report_change, change)

    @report_change.validator
    def _check_change(self, change: ReportedChange) -> None:
        check(self.case.check_report, change, today=local_date(workflow.now()))

    @workflow.update
    async def record_survey(self, survey: SurveyRecord) -> ReviewView:
        return await self.apply(self._check_survey, self.case.record_survey, survey)

    @record_survey.validator
    def _check_survey(self, survey: SurveyRecord) -> None:
        check(self.case.check_survey, survey, today=local_date(workflow.now()))

    @workflow.update
    async def record_proposal(self, proposal: BenefitDecision) -> ReviewView:
        return await self.apply(self._check_proposal, self.case.record_proposal, proposal)

    @record_proposal.validator
    def _check_proposal(self, proposal: BenefitDecision) -> None:
        check(self.case.check_proposal, proposal, now=workflow.now())

    @workflow.update
    async def record_decision(self, decision: BenefitDecision) -> ReviewView:
        """The register writes the decision first (checked again under the household's lock:
        its refusal fails the Update, the review unchanged), then the review records it."""
        case = self.case
        async with self.work.lock:
            now = workflow.now()
            check(case.check_decision, decision, now=now)
            ruling = ReviewRuling(
                review_no=case.view.case_no, recipient_no=case.view.recipient_no,
                decision=decision, at=now, policy=case.start.policy,
                assessed_income=case.survey.assessed_monthly_income if case.survey else None,
            )  # fmt: skip
            try:
                month = await workflow.execute_activity(
                    Activity.decide_review, ruling, result_type=str, **QUICK
                )
            except ActivityError as failed:
                cause = failed.cause
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    raise ApplicationError(
                        cause.message, *cause.details, type=cause.type, non_retryable=True
                    ) from None
                raise
            case.decide(decision, Month.parse(month), now=now)
            await self.work.write()
        return case.view

    @record_decision.validator
    def _check_decision(self, decision: BenefitDecision) -> None:
        check(self.case.check_decision, decision, now=workflow.now())

    # ---- the hooks of CaseWorkflow ---------------------------------------------------

    async def _after_events(self) -> list[asyncio.Task[None]] | None:
        case = self.case
        if case.closed and case.tells_family and self._told is None:
            self._told = asyncio.create_task(self._tell_family())
        told = self._told
        if case.closed and (told is None or told.done()):
            return None
        if not case.closed and workflow.info().is_continue_as_new_suggested():
            await self.continue_as_new()
        return [told] if told is not None else []

    async def _closing(self) -> None:
        if self._verification is not None:
            self._verification.cancel()

    async def _recount(self) -> None:
        """A review's deadlines are fixed at its opening."""

    async def _calendar_changed(self) -> None:
        """Fixed at opening: a calendar published later does not move them."""

    # ---- the parts -------------------------------------------------------------------

    async def _verify_household(self) -> None:
        case = self.case
        request = VerificationRequest(case_no=case.view.case_no, members=case.people)
        try:
            report = await workflow.execute_activity(
                Activity.verify_household, request, result_type=VerificationReport, **EXTERNAL
            )
        except ActivityError as refused:
            await self.work.locked_alert(
                case.platform_refused(str(refused.cause), now=workflow.now())
            )
            return
        await self.record(lambda: case.receive_verification(report, now=workflow.now()))

    async def _tell_family(self) -> None:
        view = self.case.view
        text = benefit_decision_text(
            view.recipient_no, view.outcome or "", view.effective_month or "", view.reasons or ""
        )
        await self.work.text(template=f"review_{view.outcome}", text=text)


@workflow.defn
class ReviewRoundWorkflow:
    """The day's round (a Schedule starts it): the periodic reviews falling due open, in one
    activity that pages through the register, so the register's size makes no timers."""

    @workflow.run
    async def run(self, round_: ReviewRound) -> int:
        return await workflow.execute_activity(
            Activity.open_due_reviews,
            round_,
            result_type=int,
            start_to_close_timeout=timedelta(hours=4),
            heartbeat_timeout=timedelta(minutes=2),
        )
