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
        CalendarPublished,
        DecisionRecord,
        InterventionRecord,
        ReviewRecord,
        SurveyRecord,
    )
    from domain.contracts import (
        Activity,
        HoldOutcome,
        PaymentOrder,
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
    from workflows.casework import QUICK, Alarm, Casework
    from workflows.errors import refusing
    from workflows.search import emergency_search_attributes

FUNDS_RECHECK = timedelta(hours=6)
"""A case waiting for funds is woken by a top-up; it also looks again this often."""


@workflow.defn
class EmergencyWorkflow:
    @workflow.init
    def __init__(self, start: EmergencyStart | Emergency) -> None:
        """A case just requested, or a halted one a supervisor restarted from its last state."""
        self.case = start if isinstance(start, Emergency) else Emergency.requested(start)
        self.work = Casework(self.case, search_attributes=emergency_search_attributes)
        self._funds_offered = False
        self._hold_known: str | None = None
        """The hold whose outcome is on the record: placed, or short of funds."""
        self._recount = False

    @workflow.run
    async def run(self, start: EmergencyStart | Emergency) -> EmergencyView:
        case, work = self.case, self.work
        work.index()
        payment: asyncio.Task[None] | None = None
        refusal: asyncio.Task[bool] | None = None
        alarm = Alarm()
        while True:
            if self._recount:  # the holiday calendar changed
                self._recount = False
                await self._recount_follow_up()
            await self._fire_due_events()
            if payment is None and case.view.stage == EmergencyStage.paying:
                payment = asyncio.create_task(self._pay())
            if refusal is None and case.view.stage == EmergencyStage.rejected:
                refusal = asyncio.create_task(self._tell_rejected())
            running = [t for t in (payment, refusal) if t is not None and not t.done()]
            if case.closed and not running:
                break
            alarm.set(case.next_moment(case.events()))
            work.written = False
            await workflow.wait_condition(
                lambda: (
                    work.written
                    or self._recount
                    or alarm.rang
                    or any(task.done() for task in running)  # noqa: B023 (this iteration's)
                )
            )
            alarm.spent()
        alarm.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return case.view

    # ---- reads and signals -----------------------------------------------------------

    @workflow.query
    def current(self) -> EmergencyView:
        """The case as last written to the records."""
        return self.work.recorded

    @workflow.query
    def state(self) -> Emergency:
        """Everything the case's rules know: a halted case is restarted from it."""
        return self.case

    @workflow.signal
    def funds_offered(self) -> None:
        """The township's reserve was topped up (and this case's hold may already be placed)."""
        self._funds_offered = True

    @workflow.signal
    def calendar_published(self, published: CalendarPublished) -> None:
        """The holiday calendar changed: the follow-up's due date is counted again."""
        self._recount = True

    # ---- approval (审批) ---------------------------------------------------------------

    @workflow.update
    async def approve(self, approval: ApprovalRecord) -> EmergencyView:
        async with self.work.lock:
            self._check_approval(approval)
            self.case.approve(approval, now=workflow.now())
            await self.work.write()
        return await self._once_held()

    @approve.validator
    def _check_approval(self, approval: ApprovalRecord) -> None:
        with refusing():
            self.case.check_approval(approval, now=workflow.now())

    @workflow.update
    async def approve_exception(self, approval: ExceptionApproval) -> EmergencyView:
        async with self.work.lock:
            raises_only = workflow.patched("exception-only-raises")
            with refusing():
                self.case.check_exception_approval(
                    approval, now=workflow.now(), raises_only=raises_only
                )
            self.case.approve(approval, now=workflow.now())
            await self.work.write()
        return await self._once_held()

    @approve_exception.validator
    def _check_exception(self, approval: ExceptionApproval) -> None:
        with refusing():
            self.case.check_exception_approval(approval, now=workflow.now())

    @workflow.update
    async def reject(self, rejection: RejectionRecord) -> EmergencyView:
        async with self.work.lock:
            self._check_rejection(rejection)
            self.case.reject(rejection, now=workflow.now())
            await self.work.write()
            return self.case.view

    @reject.validator
    def _check_rejection(self, rejection: RejectionRecord) -> None:
        with refusing():
            self.case.check_rejection(rejection)

    @workflow.update
    async def record_bank_account(self, record: BankAccountRecord) -> EmergencyView:
        async with self.work.lock:
            self._check_bank_account(record)
            self.case.correct_bank_account(record, now=workflow.now())
            await self.work.write()
        return await self._once_held()

    @record_bank_account.validator
    def _check_bank_account(self, record: BankAccountRecord) -> None:
        with refusing():
            self.case.check_bank_account(record)

    # ---- the follow-up (补办) ------------------------------------------------------------

    @workflow.update
    async def record_survey(self, survey: SurveyRecord) -> EmergencyView:
        async with self.work.lock:
            self._check_survey(survey)
            self.case.record_survey(survey, now=workflow.now())
            await self.work.write()
            return self.case.view

    @record_survey.validator
    def _check_survey(self, survey: SurveyRecord) -> None:
        with refusing():
            self.case.check_survey(survey, today=local_date(workflow.now()))

    @workflow.update
    async def record_review(self, review: ReviewRecord) -> EmergencyView:
        async with self.work.lock:
            self._check_review(review)
            alert = self.case.record_review(review, now=workflow.now())
            await self.work.write()
            if alert:
                await self.work.notify_staff(alert)
            return self.case.view

    @record_review.validator
    def _check_review(self, review: ReviewRecord) -> None:
        with refusing():
            self.case.check_review(review)

    @workflow.update
    async def confirm(self, decision: DecisionRecord) -> EmergencyView:
        async with self.work.lock:
            self._check_confirmation(decision)
            self.case.confirm(decision, now=workflow.now())
            await self.work.write()
            return self.case.view

    @confirm.validator
    def _check_confirmation(self, decision: DecisionRecord) -> None:
        with refusing():
            self.case.check_confirmation(decision)

    @workflow.update
    async def intervene(self, record: InterventionRecord) -> EmergencyView:
        """督办: a supervisor moves a case that is not moving."""
        async with self.work.lock:
            capped = workflow.patched("extension-cap")
            with refusing():
                self.case.check_intervention(record, capped=capped)
            alert = self.case.intervene(record, now=workflow.now())
            if self.case.needs_recount(record):
                await self._count_follow_up()
            await self.work.write()
            if alert:
                await self.work.notify_staff(alert)
            return self.case.view

    @intervene.validator
    def _check_intervention(self, record: InterventionRecord) -> None:
        with refusing():
            self.case.check_intervention(record)

    # ---- the parts -------------------------------------------------------------------

    async def _once_held(self) -> EmergencyView:
        """An action that sends the case to payment answers with the case as recorded once the
        reserve hold is placed or found short (``awaiting_funds``): never a stage it may not
        reach."""
        if not workflow.patched("answer-once-held"):  # cases before this answered at once
            return self.case.view
        if self.case.view.stage == EmergencyStage.paying:
            key = self.case.hold_key
            await workflow.wait_condition(lambda: self._hold_known == key)
        return self.work.recorded

    async def _count_follow_up(self) -> None:
        self.case.set_follow_up_due(await self._follow_up_due())

    async def _follow_up_due(self) -> date:
        """补办 is due this many working days after the payment (and any extension)."""
        case = self.case
        days = case.start.policy.follow_up_working_days + case.follow_up_extension
        paid_on = local_date(case.view.paid_at or workflow.now())
        due = await workflow.execute_activity(
            Activity.add_working_days,
            WorkingDaysAfter(paid_on, days),
            result_type=WorkingDay,
            **QUICK,
        )
        return due.day

    async def _recount_follow_up(self) -> None:
        """The follow-up's due date on the calendar now in force; a move is on the record."""
        async with self.work.lock:
            case = self.case
            if case.view.follow_up_due is None or case.view.stage not in FOLLOWING_UP:
                return
            case.follow_up_recounted(await self._follow_up_due(), now=workflow.now())
            if case.unwritten:
                await self.work.write()

    async def _fire_due_events(self) -> None:
        async with self.work.lock:
            now = workflow.now()
            for event in self.case.due(self.case.events(), now):
                await self.work.alert(self.case.fire(event, now=now))

    async def _pay(self) -> None:
        """Hold the approved amount on the reserve, transfer it, settle the hold; through a
        shortage of funds (wait for a top-up) and a refused account (wait for a corrected one)."""
        case, work = self.case, self.work
        view, start = case.view, case.start
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
            if outcome.held:
                self._hold_known = case.hold_key
            if not outcome.held:
                with suppress(TimeoutError):  # then look at the reserve again
                    await workflow.wait_condition(
                        lambda: self._funds_offered or case.closed, timeout=FUNDS_RECHECK
                    )
                if case.closed:  # cancelled by a supervisor while it waited
                    return
                continue
            if view.stage == EmergencyStage.awaiting_funds:
                async with work.lock:
                    case.funds_held(now=workflow.now())
                    await work.write()
            receipt = await work.pay(
                PaymentOrder(
                    case_no=view.case_no,
                    key=case.payment_key,
                    payee_name=case.payee.name,
                    payee_id_number=case.payee.id_number,
                    amount=view.approved_amount,
                    purpose=f"emergency:{start.cause}",
                    account=case.account,
                )
            )
            if isinstance(receipt, str):
                release = ReserveRelease(hold_key=case.hold_key, key=release_key(case.hold_key))
                await workflow.execute_activity(Activity.release_reserve, release, **QUICK)
                async with work.lock:
                    alert = case.payment_refused(receipt, now=workflow.now())
                    await work.write()
                    await work.notify_staff(alert)
                refused = case.attempt
                await workflow.wait_condition(lambda: case.attempt != refused or case.closed)  # noqa: B023
                if case.closed:
                    return
                continue
            settlement = ReserveSettlement(
                hold_key=case.hold_key,
                key=settlement_key(case.hold_key),
                members=case.members,
                cause=start.cause,
            )
            await workflow.execute_activity(Activity.settle_reserve, settlement, **QUICK)
            async with work.lock:
                case.paid(receipt.transfer_id, now=workflow.now())
                await self._count_follow_up()
                await work.write()
            text = emergency_paid_text(view.case_no, view.approved_amount, case.account.masked)
            await work.text(phone=start.applicant.phone, template="emergency_paid", text=text)
            return

    async def _tell_rejected(self) -> bool:
        """The family is told why, with the remedies (书面告知)."""
        start, rejection = self.case.start, self.case.rejection
        text = emergency_rejected_text(start.case_no, rejection.reasons if rejection else "")
        return await self.work.text(
            phone=start.applicant.phone, template="emergency_rejected", text=text
        )
