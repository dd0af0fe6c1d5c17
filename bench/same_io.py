"""The third mirror, "bare, same I/O": the bare case's updates, stages and activities, but its
activities are jiuzhu's own (``activities.records``, ``activities.external``): the same records
writes through ``store/`` and the same HTTP calls to the simulators. Nothing else: no API, no
payload encryption, no search attributes, no casework layer (the views are written as the bare
case moves, a step at a time).

Temporal's sandbox imports this module again for every run: beside the SDK and the standard
library it imports only the domain's pure types, passed through.
"""

import asyncio
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.application import first_payment_key
    from domain.cases import (
        AuditEntry,
        CaseStart,
        PaymentAttempt,
        Stage,
        VerificationReport,
        account_holder,
        initial_view,
    )
    from domain.contracts import (
        Activity,
        ApplicantNotice,
        PaymentOrder,
        PaymentReceipt,
        Registration,
        Transition,
        VerificationRequest,
    )
    from domain.months import Month
    from domain.notices import accepted_text, approved_text

MONTHLY_AMOUNT = Decimal("600.00")
QUICK = dict(start_to_close_timeout=timedelta(seconds=15))
EXTERNAL = dict(start_to_close_timeout=timedelta(seconds=30))


@workflow.defn(name="BenchSameIOCase")
class SameIOCase:
    """An approved 低保 case as the bare mirror runs it, each activity doing jiuzhu's I/O."""

    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        self.start = start
        self.view = initial_view(start)
        self.seq = 1  # the intake wrote entry 0
        self.surveyed = False
        self.verified = False
        self.reviewed = False
        self.decided = False

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        verification = asyncio.create_task(self._verify())
        await self._text("accepted", accepted_text(start, self.view))
        await workflow.wait_condition(lambda: self.surveyed and self.verified)
        await self._record("survey_completed", Stage.review)
        await workflow.wait_condition(lambda: self.reviewed)
        await self._record("notice_ended", Stage.decision)
        await workflow.wait_condition(lambda: self.decided)
        await self._pay()
        await self._text("approved", approved_text(start, MONTHLY_AMOUNT))
        await self._record("first_payment_made", Stage.approved, first_payment_at=workflow.now())
        await verification
        await workflow.wait_condition(workflow.all_handlers_finished)
        return start.case_no

    @workflow.query
    def current_stage(self) -> str:
        return self.view.stage.value

    @workflow.update
    async def survey(self, note: str) -> str:
        await self._record("survey_recorded", Stage.survey, surveyed_at=workflow.now())
        self.surveyed = True
        return self.view.stage.value

    @survey.validator
    def _check_survey(self, note: str) -> None:
        self._require(Stage.survey)

    @workflow.update
    async def review(self, note: str) -> str:
        self.reviewed = True
        await self._record("review_approve", Stage.notice, reviewed_at=workflow.now())
        return self.view.stage.value

    @review.validator
    def _check_review(self, note: str) -> None:
        self._require(Stage.review)

    @workflow.update
    async def decision(self, note: str) -> str:
        self.decided = True
        now = workflow.now()
        await self._record(
            "approved", Stage.approved, decided_at=now, monthly_amount=MONTHLY_AMOUNT
        )
        return self.view.stage.value

    @decision.validator
    def _check_decision(self, note: str) -> None:
        self._require(Stage.decision)

    def _require(self, stage: Stage) -> None:
        if self.view.stage != stage:
            raise ValueError(f"stage is {self.view.stage}, not {stage}")

    async def _record(self, action: str, stage: Stage, **changes) -> None:
        """``record_transition``: the projection and one audit entry, as jiuzhu writes a step."""
        now, before = workflow.now(), self.view.stage
        self.view = replace(self.view, stage=stage, version=self.view.version + 1, **changes)
        entry = AuditEntry(
            case_no=self.start.case_no, seq=self.seq, at=now, actor=self.start.accepted_by,
            action=action, from_stage=before, to_stage=stage,
        )  # fmt: skip
        self.seq += 1
        await workflow.execute_activity(
            Activity.record_transition, Transition(view=self.view, entries=[entry]), **QUICK
        )

    async def _verify(self) -> None:
        start = self.start
        request = VerificationRequest(
            case_no=start.case_no, members=[start.applicant, *start.household]
        )
        report = await workflow.execute_activity(
            Activity.verify_household, request, result_type=VerificationReport, **EXTERNAL
        )
        await self._record("verification_report_received", self.view.stage, verification=report)
        self.verified = True

    async def _text(self, template: str, text: str) -> None:
        start = self.start
        notice = ApplicantNotice(
            case_no=start.case_no, key=f"{start.case_no}:{template}",
            phone=start.applicant.phone, template=template, text=text,
        )  # fmt: skip
        await workflow.execute_activity(Activity.notify_applicant, notice, **EXTERNAL)

    async def _pay(self) -> None:
        """The household into the register, then its first payment (the month's payroll item)."""
        start, view, now = self.start, self.view, workflow.now()
        key = first_payment_key(start.case_no, 1)
        account = start.bank_account
        number = await workflow.execute_activity(
            Activity.register_household,
            Registration(
                start=start, account=account, amount=MONTHLY_AMOUNT,
                approved_by=start.accepted_by, approved_at=view.decided_at or now,
                first_payment_key=key,
            ),
            result_type=str,
            **QUICK,
        )  # fmt: skip
        payee = account_holder([start.applicant, *start.household], account)
        order = PaymentOrder(
            case_no=start.case_no, key=key, payee_name=payee.name,
            payee_id_number=payee.id_number, amount=MONTHLY_AMOUNT,
            purpose=f"{start.assistance_type.value}:first-payment", account=account,
            recipient_no=number, month=str(Month.at(view.decided_at or now)),
        )  # fmt: skip
        receipt = await workflow.execute_activity(
            Activity.make_payment, order, result_type=PaymentReceipt, **EXTERNAL
        )
        paid = PaymentAttempt(
            attempt=1, amount=receipt.amount, account=view.bank_account or "",
            status="settled", at=workflow.now(), transfer_id=receipt.transfer_id,
        )  # fmt: skip
        self.view = replace(self.view, recipient_no=number, payments=[paid])
