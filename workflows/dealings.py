"""A case workflow's dealings, written once: the case records (projection and audit trail,
written by one activity per step), alerts for staff, payments and SMS."""

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.cases import SYSTEM, CaseView
    from domain.casework import CaseFile, StaffAlert
    from domain.contracts import (
        Activity,
        ApplicantNotice,
        PaymentOrder,
        PaymentReceipt,
        Registration,
        StaffNotice,
        Transition,
    )

# Records and look-ups are quick; external systems may be down for hours and are retried
# until they answer, the deadline timers recording any breach meanwhile. The time-outs are
# short because an attempt lost with a dead worker is retried only when its time-out ends;
# a records write's is longer than a writer's wait for SQLite's lock (10 s, ``store.db``), so
# a write that got the lock late is kept, not timed out as it commits. (Local activities
# would save round trips, but raced the notice and deadline timers into nondeterminism on
# replay: regular activities keep the history's order.)
QUICK = dict(start_to_close_timeout=timedelta(seconds=15))
EXTERNAL = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10)),
)


class Casework:
    """The case's records and its dealings with people and external systems.

    Every change happens under ``lock`` and is written before anything else happens; reads
    get ``recorded``, the view as last written, so a read never runs ahead of the audit trail.
    """

    def __init__(
        self,
        case: CaseFile,
        *,
        search_attributes: Callable[[CaseView], list[SearchAttributeUpdate]],
    ) -> None:
        self.case = case
        self.recorded = replace(case.view)
        self.lock = asyncio.Lock()
        self.written = False
        """Set by each write: the workflow's main loop looks again at its timed events."""
        self._search_attributes = search_attributes
        self._indexed = search_attributes(case.view)

    def index(self) -> None:
        """Search attributes for the run: what Temporal indexes about the case (no personal
        data). A case the API started with them (``workflows.search.application_at_start``)
        makes no upsert: one visibility write less. Not behind ``workflow.patched``, whose
        marker upserts a search attribute of its own: the start event says on replay too what
        the start carried (none, for cases started before), and a continued run (which carries
        its last run's) upserts as it always did."""
        info = workflow.info()
        given = info.typed_search_attributes
        if info.continued_run_id is None and all(
            given.get(p.key) == p.value for p in self._indexed
        ):
            return
        workflow.upsert_search_attributes(self._indexed)

    async def write(self) -> None:
        """One activity writes the projection and every step noted since the last write."""
        view = replace(self.case.view)
        transition = Transition(view=view, entries=self.case.take_unwritten())
        await workflow.execute_activity(Activity.record_transition, transition, **QUICK)
        self.recorded = view
        indexed = self._search_attributes(self.case.view)
        if indexed != self._indexed:  # each upsert is a visibility write on the server
            workflow.upsert_search_attributes(indexed)
            self._indexed = indexed
        self.written = True

    async def alert(self, alert: StaffAlert) -> None:
        """On the case's record, then in front of the caseworker and the district (站内通知)."""
        self.case.step(SYSTEM, alert.kind, self.case.view.stage, workflow.now(), note=alert.message)
        await self.write()
        await self.notify_staff(alert)

    async def locked_alert(self, alert: StaffAlert) -> None:
        """``alert``, from outside the lock."""
        async with self.lock:
            await self.alert(alert)

    async def notify_staff(self, alert: StaffAlert) -> None:
        """In front of the caseworker, and of the township's and the district's leaders."""
        view = self.case.view
        await workflow.execute_activity(
            Activity.notify_staff,
            StaffNotice(
                case_no=view.case_no,
                key=f"{view.case_no}:{alert.key or alert.kind}",
                kind=alert.kind,
                message=alert.message,
                assignee=view.assignee,
                township=view.township,
                at=workflow.now(),
                village=view.village,
            ),
            **QUICK,
        )

    async def pay(self, *, amount: Decimal, purpose: str) -> PaymentReceipt | str:
        """The case's transfer (under its payment key, to the holder of the account on record),
        retried through outages: its receipt, or the payment system's reason for refusing it for
        good (a closed account, a name that does not match)."""
        case = self.case
        if getattr(case, "registers_household", False) and workflow.patched("register-household"):
            await self._register(amount)
        order = PaymentOrder(
            case_no=case.view.case_no,
            key=case.payment_key,  # type: ignore[attr-defined]
            payee_name=case.payee.name,
            payee_id_number=case.payee.id_number,
            amount=amount,
            purpose=purpose,
            account=case.account,  # type: ignore[attr-defined]
            recipient_no=getattr(case.view, "recipient_no", None),
            month=getattr(case, "payroll_month", None),
        )
        try:
            return await workflow.execute_activity(
                Activity.make_payment, order, result_type=PaymentReceipt, **EXTERNAL
            )
        except ActivityError as refused:
            return str(refused.cause)

    async def _register(self, amount: Decimal) -> None:
        """An approved 低保 or 特困 household enters the register (建档立卡) before its first
        payment, which is that month's payroll item (the activity is keyed by the case)."""
        case, view = self.case, self.case.view
        survey = getattr(case, "survey", None)
        if view.recipient_no is None:
            view.recipient_no = await workflow.execute_activity(
                Activity.register_household,
                Registration(
                    start=case.start,  # type: ignore[attr-defined]
                    account=case.account,  # type: ignore[attr-defined]
                    amount=amount,
                    approved_by=case.decision.actor,  # type: ignore[attr-defined]
                    approved_at=view.decided_at or workflow.now(),
                    first_payment_key=case.payment_key,  # type: ignore[attr-defined]
                    care_form=getattr(view, "care_form", None),
                    self_care=getattr(view, "self_care", None),
                    institution=getattr(view, "institution", None),
                    review_cadence=case.decision.review_cadence,  # type: ignore[attr-defined]
                    assessed_income=survey.assessed_monthly_income if survey else None,
                ),
                result_type=str,
                **QUICK,
            )

    async def text(self, *, template: str, text: str) -> bool:
        """SMS the applicant (called outside the lock). False when the SMS system refused it."""
        case_no, phone = self.case.view.case_no, self.case.start.applicant.phone  # type: ignore[attr-defined]
        notice = ApplicantNotice(
            case_no=case_no, key=f"{case_no}:{template}", phone=phone, template=template, text=text
        )
        try:
            await workflow.execute_activity(Activity.notify_applicant, notice, **EXTERNAL)
            return True
        except ActivityError as refused:
            async with self.lock:
                self.case.view.notice_refused = True
                await self.alert(
                    StaffAlert(f"{template}_notice_refused", f"SMS system refused: {refused.cause}")
                )
            return False
