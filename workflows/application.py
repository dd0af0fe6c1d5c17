"""ApplicationWorkflow: one application for 低保, 特困 or 临时救助, from acceptance to outcome.

The durable shell around ``domain.application``: each caseworker action is an Update whose
validator asks the rules (a refusal is rejected before anything is written); the handler
applies it and writes the case records before answering. The workflow is the source of truth
for the case's stage; when its history grows long it continues as new, carrying the case.
"""

import asyncio
from datetime import date

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.application import Application
    from domain.calendar import local_date
    from domain.cases import (
        BankAccountRecord,
        CalendarPublished,
        CaseStart,
        CaseView,
        DecisionRecord,
        DocumentsReceipt,
        DocumentsRequest,
        Intervention,
        InterventionRecord,
        ObjectionRecord,
        ReviewRecord,
        Stage,
        SurveyRecord,
        VerificationReport,
        WithdrawalRecord,
    )
    from domain.casework import StaffAlert
    from domain.contracts import Activity, PaymentOrder, PaymentReceipt, VerificationRequest
    from domain.deadlines import Deadlines
    from domain.notices import accepted_text, approved_text, refused_text
    from workflows.casework import EXTERNAL, QUICK, Alarm, Casework
    from workflows.errors import refusing
    from workflows.search import case_search_attributes


@workflow.defn
class ApplicationWorkflow:
    @workflow.init
    def __init__(self, case: CaseStart | Application) -> None:
        """A case just accepted, or one carried over from the run before (continue-as-new)."""
        self.case = case if isinstance(case, Application) else Application.accepted(case)
        self.work = Casework(self.case, search_attributes=case_search_attributes)
        self._recount = False
        self._reverify = False

    @workflow.run
    async def run(self, case: CaseStart | Application) -> CaseView:
        case, work = self.case, self.work
        work.index()
        # Neither waits for the other, nor holds up the deadlines (the SMS system may be down).
        verification = acknowledgement = None
        if case.view.verification is None and not case.verification_refused:
            verification = asyncio.create_task(self._verify_household())
        if not case.acknowledged:
            acknowledgement = asyncio.create_task(self._acknowledge())
        pending = [t for t in (verification, acknowledgement) if t is not None]
        outcome: asyncio.Task[None] | None = None
        alarm = Alarm()
        while True:
            if self._reverify:  # a supervisor asked the platform again after a refusal
                self._reverify = False
                verification = asyncio.create_task(self._verify_household())
                pending.append(verification)
            if self._recount:
                self._recount = False
                async with work.lock:
                    await self._count_deadlines(action="calendar_published")
            await self._fire_due_events()
            if case.closed and outcome is None:
                outcome = asyncio.create_task(self._deliver_outcome())
            if outcome is not None and outcome.done() and case.next_moment(case.events()) is None:
                break
            if not case.closed and workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new(alarm, pending)
            alarm.set(case.next_moment(case.events()))
            work.written = False
            # An outcome already delivered wakes nothing (a refusal whose SMS was refused still
            # waits for its deadline): waiting on it would spin.
            delivering = outcome if outcome is not None and not outcome.done() else None
            await workflow.wait_condition(
                lambda: (
                    work.written
                    or self._recount
                    or alarm.rang
                    or bool(delivering and delivering.done())  # noqa: B023 (this iteration's)
                )
            )
            alarm.spent()
        alarm.cancel()
        if verification is not None:
            verification.cancel()  # the report is no use to a closed case
        if acknowledgement is not None:
            await acknowledgement
        await workflow.wait_condition(workflow.all_handlers_finished)
        return case.view

    # ---- reads -----------------------------------------------------------------------

    @workflow.query
    def current(self) -> CaseView:
        """The case as last written to the records: a read never runs ahead of the audit trail."""
        return self.work.recorded

    @workflow.query
    def state(self) -> Application:
        """Everything the case's rules know: a halted case is restarted from it."""
        return self.case

    # ---- caseworker actions ----------------------------------------------------------

    @workflow.update
    async def record_survey(self, survey: SurveyRecord) -> CaseView:
        async with self.work.lock:
            self._check_survey(survey)
            self.case.record_survey(survey, now=workflow.now())
            await self.work.write()
            return self.case.view

    @record_survey.validator
    def _check_survey(self, survey: SurveyRecord) -> None:
        with refusing():
            self.case.check_survey(survey, today=self._today())

    @workflow.update
    async def record_review(self, review: ReviewRecord) -> CaseView:
        async with self.work.lock:
            self._check_review(review)
            self.case.record_review(review, now=workflow.now())
            await self.work.write()
            return self.case.view

    @record_review.validator
    def _check_review(self, review: ReviewRecord) -> None:
        with refusing():
            self.case.check_review(review, now=workflow.now())

    @workflow.update
    async def record_objection(self, objection: ObjectionRecord) -> CaseView:
        async with self.work.lock:
            self._check_objection(objection)
            self.case.record_objection(objection, now=workflow.now())
            if workflow.patched("survey-deadline-after-objection"):
                self.case.restart_survey_clock(now=workflow.now())
                await self._count_deadlines()
            await self.work.write()
            return self.case.view

    @record_objection.validator
    def _check_objection(self, objection: ObjectionRecord) -> None:
        with refusing():
            self.case.check_objection(objection)

    @workflow.update
    async def record_decision(self, decision: DecisionRecord) -> CaseView:
        async with self.work.lock:
            self._check_decision(decision)
            now = workflow.now()
            if self.case.approval_needs_notice(decision) and workflow.patched(
                "publicise-before-approval"
            ):
                self.case.propose_approval(decision, now=now)
            else:
                self.case.decide(decision, now=now)
                if self.case.view.stage == Stage.refused:
                    await self._count_deadlines()  # the written refusal's deadline
            await self.work.write()
            return self.case.view

    @record_decision.validator
    def _check_decision(self, decision: DecisionRecord) -> None:
        with refusing():
            self.case.check_decision(decision, now=workflow.now())

    @workflow.update
    async def request_documents(self, request: DocumentsRequest) -> CaseView:
        async with self.work.lock:
            self._check_documents_request(request)
            self.case.request_documents(request, now=workflow.now())
            await self.work.write()
            return self.case.view

    @request_documents.validator
    def _check_documents_request(self, request: DocumentsRequest) -> None:
        with refusing():
            self.case.check_documents_request(request)

    @workflow.update
    async def receive_documents(self, receipt: DocumentsReceipt) -> CaseView:
        async with self.work.lock:
            self._check_documents_receipt(receipt)
            self.case.receive_documents(receipt, now=workflow.now())
            await self._count_deadlines()  # the pause moves them
            await self.work.write()
            return self.case.view

    @receive_documents.validator
    def _check_documents_receipt(self, receipt: DocumentsReceipt) -> None:
        with refusing():
            self.case.check_documents_receipt(receipt)

    @workflow.update
    async def withdraw(self, withdrawal: WithdrawalRecord) -> CaseView:
        async with self.work.lock:
            self._check_withdrawal(withdrawal)
            self.case.withdraw(withdrawal, now=workflow.now())
            await self.work.write()
            return self.case.view

    @withdraw.validator
    def _check_withdrawal(self, withdrawal: WithdrawalRecord) -> None:
        with refusing():
            self.case.check_withdrawal(withdrawal)

    @workflow.update
    async def record_bank_account(self, record: BankAccountRecord) -> CaseView:
        async with self.work.lock:
            self._check_bank_account(record)
            self.case.record_bank_account(record, now=workflow.now())
            await self.work.write()
            return self.case.view

    @record_bank_account.validator
    def _check_bank_account(self, record: BankAccountRecord) -> None:
        with refusing():
            self.case.check_bank_account(record)

    @workflow.update
    async def intervene(self, record: InterventionRecord) -> CaseView:
        """督办: a supervisor moves a case that is not moving."""
        async with self.work.lock:
            capped = workflow.patched("extension-cap")
            with refusing():
                self.case.check_intervention(record, capped=capped)
            alert = self.case.intervene(record, now=workflow.now())
            if self.case.needs_recount(record):
                await self._count_deadlines()
            await self.work.write()
            if alert:
                await self.work.notify_staff(alert)
            if record.action == Intervention.reverify:
                self._reverify = True  # the main loop asks the platform again
            return self.case.view

    @intervene.validator
    def _check_intervention(self, record: InterventionRecord) -> None:
        with refusing():
            self.case.check_intervention(record)

    @workflow.signal
    def calendar_published(self, published: CalendarPublished) -> None:
        """The holiday calendar changed: count the deadlines again (the timers move)."""
        self._recount = True

    # ---- the parts -------------------------------------------------------------------

    def _today(self) -> date:
        return local_date(workflow.now())

    async def _count_deadlines(self, *, action: str | None = None) -> None:
        """Count the deadlines on the calendar in the database; with an ``action``, a move is
        written to the record."""
        deadlines = await workflow.execute_activity(
            Activity.compute_deadlines, self.case.deadline_facts(), result_type=Deadlines, **QUICK
        )
        self.case.count_deadlines(deadlines, now=workflow.now(), action=action)
        if action and self.case.unwritten:
            await self.work.write()

    async def _fire_due_events(self) -> None:
        async with self.work.lock:
            now = workflow.now()
            for event in self.case.due(self.case.events(), now):
                alert = self.case.fire(event, now=now)
                if alert is None:
                    await self.work.write()
                else:
                    await self.work.alert(alert)

    async def _verify_household(self) -> None:
        start = self.case.start
        try:
            report = await workflow.execute_activity(
                Activity.verify_household,
                VerificationRequest(
                    case_no=start.case_no,
                    members=[start.applicant, *start.household],
                    attempt=self.case.verification_attempt,
                ),
                result_type=VerificationReport,
                **EXTERNAL,
            )
        except ActivityError as refused:
            async with self.work.lock:
                self.case.verification_refused = self.case.view.verification_refused = True
                await self.work.alert(
                    StaffAlert(
                        "verification_refused", f"verification platform refused: {refused.cause}"
                    )
                )
            return
        async with self.work.lock:
            self.case.receive_verification(report, now=workflow.now())
            await self.work.write()

    async def _acknowledge(self) -> None:
        start = self.case.start
        text = accepted_text(start, self.case.view)
        await self.work.text(phone=start.applicant.phone, template="accepted", text=text)
        self.case.acknowledged = True

    async def _deliver_outcome(self) -> None:
        case, start = self.case, self.case.start
        view = case.view
        if view.stage == Stage.approved and view.monthly_amount:
            receipt = await self._pay_first_amount()
            if receipt is None:
                return
            await self.work.text(
                phone=start.applicant.phone,
                template="approved",
                text=approved_text(start, view.monthly_amount),
            )
            async with self.work.lock:
                case.first_payment_made(receipt.transfer_id, now=workflow.now())
                await self.work.write()
        elif view.stage == Stage.refused:
            reasons = case.decision.reasons if case.decision else ""
            text = refused_text(start, reasons)
            if not await self.work.text(phone=start.applicant.phone, template="refused", text=text):
                return  # the written-refusal deadline still runs, and its breach is recorded
            async with self.work.lock:
                case.refusal_notice_sent(now=workflow.now())
                await self.work.write()

    async def _pay_first_amount(self) -> PaymentReceipt | None:
        """Into the family's bank account: an approved case without one waits for it, and
        after a refusal for a corrected one (the caseworker is told each time)."""
        case, work = self.case, self.work
        if case.account is None and workflow.patched("pay-into-bank-account"):
            async with work.lock:
                await work.alert(case.needs_bank_account(now=workflow.now()))
            await workflow.wait_condition(lambda: case.account is not None)
        while True:
            view, start = case.view, case.start
            receipt = await work.pay(
                PaymentOrder(
                    case_no=view.case_no,
                    key=case.payment_key,
                    payee_name=case.payee.name,
                    payee_id_number=case.payee.id_number,
                    amount=view.monthly_amount,
                    purpose=f"{start.assistance_type.value}:first-payment",
                    account=case.account,
                )
            )
            if not isinstance(receipt, str):
                return receipt
            async with work.lock:  # refused for good: on the record, before people
                await work.alert(case.payment_refused(receipt, now=workflow.now()))
            if not workflow.patched("retry-refused-payment"):
                return None
            refused = view.payment_attempt
            await workflow.wait_condition(lambda: case.view.payment_attempt != refused)  # noqa: B023

    async def _continue_as_new(self, alarm: Alarm, pending: list[asyncio.Task[None]]) -> None:
        """Carry the case into a fresh run before its history grows too long for the server
        (which would terminate it): once no action is under way and everything is written.
        Calls to the external systems still waiting are made again by the new run, under the
        same idempotency keys."""
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self.work.lock.locked()
        )
        alarm.cancel()
        for task in pending:
            task.cancel()
        workflow.logger.info("case %s continues as new", self.case.view.case_no)
        workflow.continue_as_new(self.case)
