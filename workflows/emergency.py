"""EmergencyWorkflow: 急难型临时救助, from the request to money in the family's account within
24 hours (先行救助), then the follow-up (补办) until the district confirms.

The durable shell around ``domain.emergency``. The reserve's money lives in the database
ledger, never here: the workflow holds, settles or releases it through keyed activities, and
the transfer's key comes from the case and the attempt, so no crash or replay pays twice.
"""

import asyncio
from contextlib import suppress
from datetime import date, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.calendar import local_date
    from domain.cases import (
        BankAccountRecord,
        DecisionRecord,
        InterventionRecord,
        ReviewRecord,
        SurveyRecord,
    )
    from domain.contracts import (
        Activity,
        HoldOutcome,
        ReserveHold,
        ReserveRelease,
        ReserveSettlement,
        WorkingDay,
        WorkingDaysAfter,
    )
    from domain.emergency import (
        FOLLOWING_UP,
        ApprovalRecord,
        Emergency,
        EmergencyStage,
        EmergencyStart,
        EmergencyView,
        ExceptionApproval,
        RejectionRecord,
        release_key,
        settlement_key,
    )
    from domain.notices import emergency_paid_text, emergency_rejected_text
    from workflows.casework import CaseWorkflow, reads
    from workflows.dealings import QUICK
    from workflows.errors import check
    from workflows.search import emergency_search_attributes

FUNDS_RECHECK = timedelta(hours=6)
"""A case waiting for funds is woken by a top-up; it also looks again this often."""


@workflow.defn
class EmergencyWorkflow(CaseWorkflow):
    case: Emergency
    current, state = reads(EmergencyView, Emergency)

    @workflow.init
    def __init__(self, start: EmergencyStart | Emergency) -> None:
        """A case just requested, or a halted one a supervisor restarted from its last state."""
        case = start if isinstance(start, Emergency) else Emergency.requested(start)
        super().__init__(case, search_attributes=emergency_search_attributes)
        self._funds_offered = False
        self._hold_known: str | None = None
        """The hold whose outcome is on the record: placed, or short of funds."""
        self._payment: asyncio.Task[None] | None = None
        self._refusal: asyncio.Task[bool] | None = None

    @workflow.run
    async def run(self, start: EmergencyStart | Emergency) -> EmergencyView:
        return await self.follow()  # the payment starts once approved (``_after_events``)

    @workflow.signal
    def funds_offered(self) -> None:
        """The township's reserve was topped up (and this case's hold may already be placed)."""
        self._funds_offered = True

    # ---- approval (审批) ---------------------------------------------------------------

    @workflow.update
    async def approve(self, approval: ApprovalRecord) -> EmergencyView:
        return await self.apply(self._check_approval, self.case.approve, approval)

    @approve.validator
    def _check_approval(self, approval: ApprovalRecord) -> None:
        check(self.case.check_approval, approval, now=workflow.now())

    @workflow.update
    async def approve_exception(self, approval: ExceptionApproval) -> EmergencyView:
        return await self.apply(self._check_raising, self.case.approve, approval)

    @approve_exception.validator
    def _check_exception(self, approval: ExceptionApproval) -> None:
        check(self.case.check_exception_approval, approval, now=workflow.now())

    def _check_raising(self, approval: ExceptionApproval) -> None:
        """In the Update: 一事一议 only raises an amount (``exception-only-raises``)."""
        rule, now = self.case.check_exception_approval, workflow.now()
        check(rule, approval, now=now, raises_only=workflow.patched("exception-only-raises"))

    @workflow.update
    async def reject(self, rejection: RejectionRecord) -> EmergencyView:
        return await self.apply(self._check_rejection, self.case.reject, rejection)

    @reject.validator
    def _check_rejection(self, rejection: RejectionRecord) -> None:
        check(self.case.check_rejection, rejection)

    @workflow.update
    async def record_bank_account(self, record: BankAccountRecord) -> EmergencyView:
        return await self.apply(self._check_account, self.case.correct_bank_account, record)

    @record_bank_account.validator
    def _check_account(self, record: BankAccountRecord) -> None:
        check(self.case.check_bank_account, record)

    # ---- the follow-up (补办) ------------------------------------------------------------

    @workflow.update
    async def record_survey(self, survey: SurveyRecord) -> EmergencyView:
        return await self.apply(self._check_survey, self.case.record_survey, survey)

    @record_survey.validator
    def _check_survey(self, survey: SurveyRecord) -> None:
        check(self.case.check_survey, survey, today=local_date(workflow.now()))

    @workflow.update
    async def record_review(self, review: ReviewRecord) -> EmergencyView:
        return await self.apply(self._check_review, self.case.record_review, review)

    @record_review.validator
    def _check_review(self, review: ReviewRecord) -> None:
        check(self.case.check_review, review)

    @workflow.update
    async def confirm(self, decision: DecisionRecord) -> EmergencyView:
        return await self.apply(self._check_confirmation, self.case.confirm, decision)

    @confirm.validator
    def _check_confirmation(self, decision: DecisionRecord) -> None:
        check(self.case.check_confirmation, decision)

    @workflow.update
    async def intervene(self, record: InterventionRecord) -> EmergencyView:
        """督办: a supervisor moves a case that is not moving."""
        return await self.apply(self._check_capped, self.case.intervene, record)

    @intervene.validator
    def _check_intervention(self, record: InterventionRecord) -> None:
        check(self.case.check_intervention, record)

    # ---- the hooks of CaseWorkflow ---------------------------------------------------

    async def _after_events(self) -> list[asyncio.Task] | None:
        case = self.case
        if self._payment is None and case.view.stage == EmergencyStage.paying:
            self._payment = asyncio.create_task(self._pay())
        if self._refusal is None and case.view.stage == EmergencyStage.rejected:
            self._refusal = asyncio.create_task(self._tell_rejected())
        running = [t for t in (self._payment, self._refusal) if t is not None and not t.done()]
        return None if case.closed and not running else running

    async def _recount(self) -> None:
        self.case.set_follow_up_due(await self._follow_up_due())

    async def _calendar_changed(self) -> None:
        case = self.case
        if case.view.follow_up_due is None or case.view.stage not in FOLLOWING_UP:
            return
        case.follow_up_recounted(await self._follow_up_due(), now=workflow.now())
        if case.unwritten:
            await self.work.write()

    async def _once_held(self) -> EmergencyView:
        """The case as recorded once its reserve hold is placed or found short: never a stage
        it may not reach (``answer-once-held``: the cases before it answered at once)."""
        if not workflow.patched("answer-once-held"):
            return self.case.view
        if self.case.view.stage == EmergencyStage.paying:
            key = self.case.hold_key
            await workflow.wait_condition(lambda: self._hold_known == key)
        return self.work.recorded

    async def _follow_up_due(self) -> date:
        """补办 is due this many working days after the payment (and any extension)."""
        case = self.case
        days = case.start.policy.follow_up_working_days + case.follow_up_extension
        after = WorkingDaysAfter(local_date(case.view.paid_at or workflow.now()), days)
        due = await workflow.execute_activity(
            Activity.add_working_days, after, result_type=WorkingDay, **QUICK
        )
        return due.day

    async def _pay(self) -> None:
        """Hold the approved amount on the reserve, transfer it, settle the hold; through a
        shortage of funds (wait for a top-up) and a refused account (wait for a corrected one)."""
        case, work, view, start = self.case, self.work, self.case.view, self.case.start
        while True:
            # Cleared before looking, so that a top-up signalled from now on is never missed.
            self._funds_offered = False
            hold = ReserveHold(start.township, view.case_no, view.approved_amount, case.hold_key)
            outcome = await workflow.execute_activity(
                Activity.hold_reserve, hold, result_type=HoldOutcome, **QUICK
            )
            if not outcome.held and view.stage != EmergencyStage.awaiting_funds:
                async with work.lock:
                    alert = case.funds_short(available=outcome.available, now=workflow.now())
                    await work.write()
                    self._hold_known = case.hold_key
                    await work.notify_staff(alert)
                continue  # once more: a top-up may have come before the case showed as waiting
            if not outcome.held:
                with suppress(TimeoutError):  # then look at the reserve again
                    await workflow.wait_condition(
                        lambda: self._funds_offered or case.closed, timeout=FUNDS_RECHECK
                    )
                if case.closed:  # cancelled by a supervisor while it waited
                    return
                continue
            self._hold_known = case.hold_key
            if view.stage == EmergencyStage.awaiting_funds:
                await self.record(lambda: case.funds_held(now=workflow.now()))
            receipt = await work.pay(
                amount=view.approved_amount, purpose=f"emergency:{start.cause}"
            )
            if isinstance(receipt, str):
                release = ReserveRelease(hold_key=case.hold_key, key=release_key(case.hold_key))
                await workflow.execute_activity(Activity.release_reserve, release, **QUICK)
                await self.record(lambda: case.payment_refused(receipt, now=workflow.now()))  # noqa: B023
                refused = case.attempt
                await workflow.wait_condition(lambda: case.attempt != refused or case.closed)  # noqa: B023
                if case.closed:
                    return
                continue
            key = case.hold_key
            settlement = ReserveSettlement(key, settlement_key(key), case.members, start.cause)
            await workflow.execute_activity(Activity.settle_reserve, settlement, **QUICK)
            await self.record(lambda: case.paid(receipt.transfer_id, now=workflow.now()))  # noqa: B023
            text = emergency_paid_text(view.case_no, view.approved_amount, case.account.masked)
            await work.text(template="emergency_paid", text=text)
            return

    async def _tell_rejected(self) -> bool:
        """The family is told why, with the remedies (书面告知)."""
        start, rejection = self.case.start, self.case.rejection
        text = emergency_rejected_text(start.case_no, rejection.reasons if rejection else "")
        return await self.work.text(template="emergency_rejected", text=text)
