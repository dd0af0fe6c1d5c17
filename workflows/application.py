"""ApplicationWorkflow: one application for 低保, 特困 or 临时救助, from acceptance to outcome.

The durable shell around ``domain.application`` (``workflows.casework.CaseWorkflow``). The
workflow is the source of truth for the case's stage; when its history grows long it continues
as new, carrying the case.
"""

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.application import Application
    from domain.calendar import local_date
    from domain.cases import (
        BankAccountRecord,
        CaseStart,
        CaseView,
        DecisionRecord,
        DocumentsReceipt,
        DocumentsRequest,
        InterventionRecord,
        ObjectionRecord,
        ReviewRecord,
        Stage,
        SurveyRecord,
        VerificationReport,
        WithdrawalRecord,
    )
    from domain.casework import After
    from domain.contracts import Activity, PaymentReceipt
    from domain.deadlines import Deadlines
    from domain.notices import accepted_text, approved_text, refused_text
    from workflows.casework import CaseWorkflow, reads
    from workflows.dealings import EXTERNAL, QUICK
    from workflows.errors import check
    from workflows.search import case_search_attributes


@workflow.defn
class ApplicationWorkflow(CaseWorkflow):
    case: Application
    current, state = reads(CaseView, Application)

    @workflow.init
    def __init__(self, case: CaseStart | Application) -> None:
        """A case just accepted, or one carried over from the run before (continue-as-new)."""
        case = case if isinstance(case, Application) else Application.accepted(case)
        super().__init__(case, search_attributes=case_search_attributes)
        self._reverify_asked = False
        self._verification: asyncio.Task[None] | None = None
        self._acknowledgement: asyncio.Task[None] | None = None
        self._outcome: asyncio.Task[None] | None = None

    @workflow.run
    async def run(self, case: CaseStart | Application) -> CaseView:
        # Neither waits for the other, nor holds up the deadlines (the SMS system may be down).
        if self.case.view.verification is None and not self.case.verification_refused:
            self._verification = self.call(self._verify_household())
        if not self.case.acknowledged:
            self._acknowledgement = self.call(self._acknowledge())
        return await self.follow()

    # ---- caseworker actions ----------------------------------------------------------

    @workflow.update
    async def record_survey(self, survey: SurveyRecord) -> CaseView:
        return await self.apply(self._check_survey, self.case.record_survey, survey)

    @record_survey.validator
    def _check_survey(self, survey: SurveyRecord) -> None:
        check(self.case.check_survey, survey, today=local_date(workflow.now()))

    @workflow.update
    async def record_review(self, review: ReviewRecord) -> CaseView:
        return await self.apply(self._check_review, self.case.record_review, review)

    @record_review.validator
    def _check_review(self, review: ReviewRecord) -> None:
        check(self.case.check_review, review, now=workflow.now())

    @workflow.update
    async def record_objection(self, objection: ObjectionRecord) -> CaseView:
        return await self.apply(self._check_objection, self._object, objection)

    @record_objection.validator
    def _check_objection(self, objection: ObjectionRecord) -> None:
        check(self.case.check_objection, objection)

    @workflow.update
    async def record_decision(self, decision: DecisionRecord) -> CaseView:
        return await self.apply(self._check_decision_made, self._decide, decision)

    @record_decision.validator
    def _check_decision(self, decision: DecisionRecord) -> None:
        check(self.case.check_decision, decision, now=workflow.now())

    def _check_decision_made(self, decision: DecisionRecord) -> None:
        """The decision's check in its Update: a 特困 approval's eligibility and care are
        checked for the approvals made since they were (``tekun-eligibility``), and an
        approval against the verification findings needs its reason (``mismatch-reason``)."""
        case = self.case
        tekun = case.tekun_approval(decision) and workflow.patched("tekun-eligibility")
        mismatch = case.against_findings(decision) and workflow.patched("mismatch-reason")
        check(case.check_decision, decision, now=workflow.now(), tekun=tekun, mismatch=mismatch)

    @workflow.update
    async def request_documents(self, request: DocumentsRequest) -> CaseView:
        return await self.apply(self._check_request, self.case.request_documents, request)

    @request_documents.validator
    def _check_request(self, request: DocumentsRequest) -> None:
        check(self.case.check_documents_request, request)

    @workflow.update
    async def receive_documents(self, receipt: DocumentsReceipt) -> CaseView:
        return await self.apply(self._check_receipt, self.case.receive_documents, receipt)

    @receive_documents.validator
    def _check_receipt(self, receipt: DocumentsReceipt) -> None:
        check(self.case.check_documents_receipt, receipt)

    @workflow.update
    async def withdraw(self, withdrawal: WithdrawalRecord) -> CaseView:
        return await self.apply(self._check_withdrawal, self.case.withdraw, withdrawal)

    @withdraw.validator
    def _check_withdrawal(self, withdrawal: WithdrawalRecord) -> None:
        check(self.case.check_withdrawal, withdrawal)

    @workflow.update
    async def record_bank_account(self, record: BankAccountRecord) -> CaseView:
        return await self.apply(self._check_account, self.case.record_bank_account, record)

    @record_bank_account.validator
    def _check_account(self, record: BankAccountRecord) -> None:
        check(self.case.check_bank_account, record)

    @workflow.update
    async def intervene(self, record: InterventionRecord) -> CaseView:
        """督办: a supervisor moves a case that is not moving."""
        return await self.apply(self._check_capped, self.case.intervene, record)

    @intervene.validator
    def _check_intervention(self, record: InterventionRecord) -> None:
        check(self.case.check_intervention, record)

    def _object(self, objection: ObjectionRecord, *, now: datetime) -> After | None:
        """The new survey has a deadline of its own (``survey-deadline-after-objection``)."""
        self.case.record_objection(objection, now=now)
        if not workflow.patched("survey-deadline-after-objection"):
            return None
        self.case.restart_survey_clock(now=now)
        return After(recount=True)

    def _decide(self, decision: DecisionRecord, *, now: datetime) -> After | None:
        """Only a publicised proposal is approved (``publicise-before-approval``)."""
        case = self.case
        if case.approval_needs_notice(decision) and workflow.patched("publicise-before-approval"):
            return case.propose_approval(decision, now=now)
        return case.decide(decision, now=now)

    # ---- the hooks of CaseWorkflow ---------------------------------------------------

    async def _before_events(self) -> None:
        if self._reverify_asked:  # a supervisor asked the platform again after a refusal
            self._reverify_asked = False
            self._verification = self.call(self._verify_household())

    async def _after_events(self) -> list[asyncio.Task[None]] | None:
        case = self.case
        if case.closed and self._outcome is None:
            self._outcome = asyncio.create_task(self._deliver_outcome())
        outcome = self._outcome
        if outcome is not None and outcome.done() and case.next_moment(case.events()) is None:
            return None
        if not case.closed and workflow.info().is_continue_as_new_suggested():
            await self.continue_as_new()
        # An outcome already delivered wakes nothing (a refusal whose SMS was refused still
        # waits for its deadline): waiting on it would spin.
        return [outcome] if outcome is not None and not outcome.done() else []

    async def _closing(self) -> None:
        if self._verification is not None:
            self._verification.cancel()  # the report is no use to a closed case
        if self._acknowledgement is not None:
            await self._acknowledgement

    async def _calendar_changed(self) -> None:
        await self._recount(action="calendar_published")

    def _reverify(self) -> None:
        self._reverify_asked = True  # the main loop asks the platform again

    # ---- the parts -------------------------------------------------------------------

    async def _recount(self, *, action: str | None = None) -> None:
        """Count the deadlines on the calendar in the database; with an ``action``, a move is
        written to the record."""
        deadlines = await workflow.execute_activity(
            Activity.compute_deadlines, self.case.deadline_facts(), result_type=Deadlines, **QUICK
        )
        self.case.count_deadlines(deadlines, now=workflow.now(), action=action)
        if action and self.case.unwritten:
            await self.work.write()

    async def _verify_household(self) -> None:
        case, request = self.case, self.case.verification_request
        try:
            report = await workflow.execute_activity(
                Activity.verify_household, request, result_type=VerificationReport, **EXTERNAL
            )
        except ActivityError as refused:
            await self.work.locked_alert(case.platform_refused(str(refused.cause)))
            return
        await self.record(lambda: case.receive_verification(report, now=workflow.now()))

    async def _acknowledge(self) -> None:
        text = accepted_text(self.case.start, self.case.view)
        await self.work.text(template="accepted", text=text)
        self.case.acknowledged = True

    async def _deliver_outcome(self) -> None:
        case, start, view = self.case, self.case.start, self.case.view
        if view.stage == Stage.approved and view.monthly_amount:
            receipt = await self._pay_first_amount()
            if receipt is None:
                return
            text = approved_text(start, view.monthly_amount)
            await self.work.text(template="approved", text=text)
            await self.record(
                lambda: case.first_payment_made(receipt.transfer_id, now=workflow.now())
            )
        elif view.stage == Stage.refused:
            text = refused_text(start, case.decision.reasons if case.decision else "")
            if not await self.work.text(template="refused", text=text):
                return  # the written-refusal deadline still runs, and its breach is recorded
            await self.record(lambda: case.refusal_notice_sent(now=workflow.now()))

    async def _pay_first_amount(self) -> PaymentReceipt | None:
        """Into the family's bank account: an approved case without one waits for it, and
        after a refusal for a corrected one (the caseworker is told each time)."""
        case, work = self.case, self.work
        if case.account is None and workflow.patched("pay-into-bank-account"):
            await work.locked_alert(case.needs_bank_account(now=workflow.now()))
            await workflow.wait_condition(lambda: case.account is not None)
        while True:
            view, purpose = case.view, f"{case.start.assistance_type.value}:first-payment"
            receipt = await work.pay(amount=view.monthly_amount, purpose=purpose)
            if not isinstance(receipt, str):
                return receipt
            await work.locked_alert(case.payment_refused(receipt, now=workflow.now()))  # for good
            if not workflow.patched("retry-refused-payment"):
                return None
            refused = view.payment_attempt
            await workflow.wait_condition(lambda: case.view.payment_attempt != refused)  # noqa: B023
