"""ApplicationWorkflow: one application for 低保, 特困 or 临时救助, from acceptance to outcome.

The workflow is the source of truth for the case's stage. Every caseworker action is an Update
whose validator rejects it before anything is written; every change is written to the case
records (projection and audit trail) before the action returns.
"""

import asyncio
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.amounts import dibao_monthly_amount, tekun_monthly_amount, temporary_band
    from domain.calendar import end_of_day, local_date
    from domain.cases import (
        CLOSED_STAGES,
        SYSTEM,
        Actor,
        AssistanceType,
        AuditEntry,
        CalendarPublished,
        CaseStart,
        CaseView,
        DecisionRecord,
        DocumentsReceipt,
        DocumentsRequest,
        ObjectionRecord,
        ReviewRecord,
        Role,
        Stage,
        SurveyRecord,
        Transition,
        VerificationReport,
        WithdrawalRecord,
        initial_view,
    )
    from domain.contracts import (
        Activity,
        ApplicantNotice,
        PaymentOrder,
        PaymentReceipt,
        StaffNotice,
        VerificationRequest,
    )
    from domain.deadlines import DeadlineFacts, Deadlines, Pause
    from workflows.errors import invalid, not_permitted, wrong_stage
    from workflows.search import case_search_attributes

# Records and look-ups are quick; external systems may be down for hours and are retried
# until they answer, the deadline timers recording any breach meanwhile. The time-outs are
# short because an attempt lost with a dead worker is retried only when its time-out ends.
# (Local activities would save round trips, but raced the notice and deadline timers into
# nondeterminism on replay: regular activities keep the history's order.)
QUICK = dict(start_to_close_timeout=timedelta(seconds=10))
EXTERNAL = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10)),
)

WAITS_FOR = {
    Stage.survey: "the household survey (入户调查) and the economic-status verification report",
    Stage.review: "the township review (初审)",
    Stage.notice: "the end of the public notice (公示)",
    Stage.decision: "the district's decision (审核确认)",
    Stage.awaiting_documents: "the applicant's supplementary documents (补正材料)",
}
OPEN_STAGES = tuple(WAITS_FOR)
PAUSABLE = (Stage.survey, Stage.review, Stage.decision)


@workflow.defn
class ApplicationWorkflow:
    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        self._start = start
        self._deadlines = start.deadlines
        self._pauses: list[Pause] = []
        self._survey: SurveyRecord | None = None
        self._review: ReviewRecord | None = None
        self._decision: DecisionRecord | None = None
        self._refused_on: date | None = None
        self._publicised = False
        """Whether the proposal now before the district has been through public notice."""
        self._seq = 0
        self._unwritten: list[AuditEntry] = []
        self._indexed: list = []
        self._fired: set[str] = set()
        self._lock = asyncio.Lock()
        self._recompute = False
        self._wake = False
        self.view = initial_view(start)
        self._recorded = initial_view(start)  # the API wrote this one at intake

    @workflow.run
    async def run(self, start: CaseStart) -> CaseView:
        self._indexed = case_search_attributes(self.view)
        workflow.upsert_search_attributes(self._indexed)
        # Neither waits for the other, nor holds up the deadlines (the SMS system may be down).
        verification = asyncio.create_task(self._verify_household())
        acknowledgement = asyncio.create_task(
            self._notify_applicant(
                "accepted",
                f"您的{_TYPE_NAMES[start.assistance_type]}申请已受理，案件号{start.case_no}，"
                f"将于{self.view.decision_due:%Y年%m月%d日}前作出决定。",
            )
        )
        outcome: asyncio.Task[None] | None = None
        # One durable timer for the next deadline event, replaced only when that moment moves.
        alarm: asyncio.Task[None] | None = None
        alarm_at: datetime | None = None
        while True:
            if self._recompute:
                self._recompute = False
                async with self._lock:
                    await self._recompute_deadlines(SYSTEM, "calendar_published")
            await self._fire_due_events()
            if self.view.stage in CLOSED_STAGES and outcome is None:
                outcome = asyncio.create_task(self._deliver_outcome())
            if outcome is not None and outcome.done() and not self._events():
                break
            next_at = self._next_event_at()
            if next_at != alarm_at:
                if alarm is not None:
                    alarm.cancel()
                alarm_at = next_at
                alarm = (
                    asyncio.create_task(
                        workflow.sleep(max(next_at - workflow.now(), timedelta(seconds=1)))
                    )
                    if next_at
                    else None
                )
            self._wake = False
            await workflow.wait_condition(
                lambda: (
                    self._wake
                    or self._recompute
                    or (outcome is not None and outcome.done())
                    or (alarm is not None and alarm.done())
                )
            )
            if alarm is not None and alarm.done():
                alarm, alarm_at = None, None  # its event fires at the top of the loop
        if alarm is not None:
            alarm.cancel()
        verification.cancel()
        await acknowledgement
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view

    # ---- reads -----------------------------------------------------------------------

    @workflow.query
    def current(self) -> CaseView:
        """The case as last written to the records: a read never runs ahead of the audit trail."""
        return self._recorded

    # ---- caseworker actions ----------------------------------------------------------

    @workflow.update
    async def record_survey(self, survey: SurveyRecord) -> CaseView:
        async with self._lock:
            self._require(Stage.survey)
            self._survey = survey
            self.view.surveyed_at = workflow.now()
            self.view.assignee = survey.actor.user_id
            self._note(
                survey.actor,
                "survey_recorded",
                self.view.stage,
                note=f"investigators: {', '.join(survey.investigators)}; {survey.findings}",
            )
            self._note_survey_complete(survey.actor)
            await self._write()
            return self.view

    @record_survey.validator
    def _check_survey(self, survey: SurveyRecord) -> None:
        self._require(Stage.survey)
        if self._start.conflict_of_interest and survey.actor.role != Role.district_officer:
            raise not_permitted(
                "this case is recorded as a conflict of interest (近亲属备案): "
                "the district civil-affairs bureau must do the survey"
            )
        names = {n.strip() for n in survey.investigators if n.strip()}
        if len(names) < self._start.policy.min_investigators:
            raise invalid(
                "investigators",
                f"a household survey needs at least {self._start.policy.min_investigators} "
                "named investigators",
            )
        if (
            not local_date(self._start.accepted_at)
            <= survey.visited_on
            <= local_date(workflow.now())
        ):
            raise invalid("visited_on", "the visit date must be between acceptance and today")
        if survey.assessed_monthly_income < 0:
            raise invalid("assessed_monthly_income", "income cannot be negative")

    @workflow.update
    async def record_review(self, review: ReviewRecord) -> CaseView:
        async with self._lock:
            self._require(Stage.review)
            self._review = review
            self._publicised = False
            self.view.reviewed_at = workflow.now()
            self.view.monthly_amount = (
                self._amount(review, field="recommendation")
                if review.recommendation == "approve"
                else None
            )
            if review.recommendation == "approve":
                # Only a proposed approval is published (公示); a proposed refusal goes to the district.
                self._start_notice()
                to_stage = Stage.notice
            else:
                to_stage = Stage.decision
            await self._record(
                review.actor, f"review_{review.recommendation}", to_stage, note=review.reasons
            )
            return self.view

    @record_review.validator
    def _check_review(self, review: ReviewRecord) -> None:
        self._require(Stage.review)
        if review.recommendation not in ("approve", "refuse"):
            raise invalid("recommendation", "must be 'approve' or 'refuse'")
        if not review.reasons.strip():
            raise invalid("reasons", "a review gives its reasons")
        if review.recommendation == "approve":
            self._amount(review, field="recommendation")

    @workflow.update
    async def record_objection(self, objection: ObjectionRecord) -> CaseView:
        async with self._lock:
            self._require(Stage.notice)
            # An objection sends the case back to be surveyed again; the notice restarts later.
            self.view.objections += 1
            self._survey = None
            self._publicised = False
            self.view.surveyed_at = None
            self.view.notice_ends_at = None
            await self._record(
                objection.actor,
                "objection_received",
                Stage.survey,
                note=f"raised by {objection.raised_by}: {objection.grounds}",
            )
            return self.view

    @record_objection.validator
    def _check_objection(self, objection: ObjectionRecord) -> None:
        self._require(Stage.notice)
        if not objection.grounds.strip():
            raise invalid("grounds", "an objection states its grounds")
        if not objection.raised_by.strip():
            raise invalid("raised_by", "say who raised the objection")

    @workflow.update
    async def record_decision(self, decision: DecisionRecord) -> CaseView:
        async with self._lock:
            self._require(Stage.decision)
            if (
                decision.outcome == "approve"
                and not self._publicised
                and workflow.patched("publicise-before-approval")
            ):
                # Only a publicised proposal may be approved: the district's approval of a
                # proposed refusal becomes the proposal, and goes to public notice first.
                self._review = self._district_proposal(decision)
                self.view.monthly_amount = self._amount(self._review, field="outcome")
                self._start_notice()
                await self._record(
                    decision.actor, "approval_proposed_by_district", Stage.notice, note=decision.reasons
                )
                return self.view
            self._decision = decision
            now = workflow.now()
            self.view.decided_at = self.view.closed_at = now
            if decision.outcome == "approve":
                self.view.monthly_amount = self._amount(self._review, field="outcome")
                await self._record(
                    decision.actor, "approved", Stage.approved, note=decision.reasons
                )
            else:
                self.view.monthly_amount = None
                self._refused_on = local_date(now)
                await self._recompute_deadlines(decision.actor, None)
                await self._record(decision.actor, "refused", Stage.refused, note=decision.reasons)
            return self.view

    @record_decision.validator
    def _check_decision(self, decision: DecisionRecord) -> None:
        self._require(Stage.decision)
        if decision.outcome not in ("approve", "refuse"):
            raise invalid("outcome", "must be 'approve' or 'refuse'")
        if not decision.reasons.strip():
            raise invalid("reasons", "a decision gives its reasons")
        if decision.outcome == "approve" and self._publicised:
            self._amount(self._review, field="outcome")
        elif decision.outcome == "approve":
            self._amount(self._district_proposal(decision), field="outcome")

    def _district_proposal(self, decision: DecisionRecord) -> ReviewRecord:
        """The district's approval of a proposal that was not publicised, as the proposal."""
        amount = decision.amount if decision.amount is not None else (
            self._review.amount if self._review else None
        )
        return ReviewRecord(
            actor=decision.actor, recommendation="approve", reasons=decision.reasons, amount=amount
        )

    def _start_notice(self) -> None:
        self.view.notice_started_at = workflow.now()
        self.view.notice_ends_at = workflow.now() + timedelta(
            days=self._start.policy.notice_calendar_days
        )

    @workflow.update
    async def request_documents(self, request: DocumentsRequest) -> CaseView:
        async with self._lock:
            self._require(*PAUSABLE)
            self.view.paused_from = self.view.stage
            self.view.pending_documents = list(request.documents)
            self._pauses.append(Pause(started_on=local_date(workflow.now())))
            await self._record(
                request.actor,
                "documents_requested",
                Stage.awaiting_documents,
                note=f"{'; '.join(request.documents)}. {request.note}".strip(),
            )
            return self.view

    @request_documents.validator
    def _check_documents_request(self, request: DocumentsRequest) -> None:
        self._require(*PAUSABLE)
        if not [d for d in request.documents if d.strip()]:
            raise invalid("documents", "name the documents the applicant must bring")

    @workflow.update
    async def receive_documents(self, receipt: DocumentsReceipt) -> CaseView:
        async with self._lock:
            self._require(Stage.awaiting_documents)
            resumed = self.view.paused_from or Stage.survey
            self._pauses[-1] = replace(self._pauses[-1], ended_on=local_date(workflow.now()))
            self.view.paused_from = None
            self.view.pending_documents = []
            await self._recompute_deadlines(receipt.actor, None)
            self._note(receipt.actor, "documents_received", resumed, note=receipt.note)
            self._note_survey_complete(receipt.actor)
            await self._write()
            return self.view

    @receive_documents.validator
    def _check_documents_receipt(self, receipt: DocumentsReceipt) -> None:
        self._require(Stage.awaiting_documents)

    @workflow.update
    async def withdraw(self, withdrawal: WithdrawalRecord) -> CaseView:
        async with self._lock:
            self._require(*OPEN_STAGES)
            if self.view.stage == Stage.awaiting_documents:
                self._pauses[-1] = replace(self._pauses[-1], ended_on=local_date(workflow.now()))
            self.view.closed_at = workflow.now()
            await self._record(
                withdrawal.actor, "withdrawn", Stage.withdrawn, note=withdrawal.reason
            )
            return self.view

    @withdraw.validator
    def _check_withdrawal(self, withdrawal: WithdrawalRecord) -> None:
        self._require(*OPEN_STAGES)
        if not withdrawal.reason.strip():
            raise invalid("reason", "record why the application is withdrawn")

    @workflow.signal
    def calendar_published(self, published: CalendarPublished) -> None:
        """The holiday calendar changed: count the deadlines again (the timers move)."""
        self._recompute = True

    # ---- the parts -------------------------------------------------------------------

    def _require(self, *stages: Stage) -> None:
        if self.view.stage not in stages:
            wanted = " or ".join(s.value for s in stages)
            waiting = WAITS_FOR.get(self.view.stage)
            now = f"waiting for {waiting}" if waiting else "closed"
            raise wrong_stage(
                f"case {self.view.case_no} is at stage '{self.view.stage}' ({now}); "
                f"this action needs stage {wanted}"
            )

    def _amount(self, review: ReviewRecord | None, *, field: str) -> Decimal:
        """The monthly (or, for 临时救助, one-time) amount the approval pays; ``field`` is the
        one to name when the household's income leaves nothing to pay."""
        start, policy = self._start, self._start.policy
        year = local_date(workflow.now()).year
        if start.assistance_type == AssistanceType.dibao:
            standard = policy.dibao_standard(year)
            income = self._survey.assessed_monthly_income if self._survey else Decimal(0)
            amount = dibao_monthly_amount(
                standard=standard.urban if start.area == "urban" else standard.rural,
                household_size=self.view.household_size,
                household_income=income,
            )
            if amount <= 0:
                raise invalid(
                    field,
                    f"the household's assessed income ¥{income} is not below the 低保 line for "
                    f"{self.view.household_size} person(s); the application can only be refused",
                )
            return amount
        if start.assistance_type == AssistanceType.tekun:
            return tekun_monthly_amount(policy=policy, year=year, area=start.area)
        low, high = temporary_band(policy=policy, year=year, expense=start.expense or "")
        if review is None or review.amount is None:
            raise invalid(
                "amount", f"temporary assistance needs an amount between ¥{low} and ¥{high}"
            )
        if not low <= review.amount <= high:
            raise invalid(
                "amount",
                f"¥{review.amount} is outside the band ¥{low}–¥{high} for {start.expense}; "
                "a higher amount is 一事一议 and needs the district's approval",
            )
        return review.amount

    def _note_survey_complete(self, actor: Actor) -> None:
        """The case leaves survey once both the survey and the verification report are in."""
        if self.view.stage == Stage.survey and self._survey and self.view.verification:
            self._note(actor, "survey_completed", Stage.review)

    async def _verify_household(self) -> None:
        members = [self._start.applicant, *self._start.household]
        try:
            report: VerificationReport = await workflow.execute_activity(
                Activity.verify_household,
                VerificationRequest(case_no=self._start.case_no, members=members),
                result_type=VerificationReport,
                **EXTERNAL,
            )
        except ActivityError as refused:
            async with self._lock:
                await self._alert(
                    "verification_refused", f"verification platform refused: {refused.cause}"
                )
            return
        async with self._lock:
            self.view.verification = report
            self._note(
                SYSTEM,
                "verification_report_received",
                self.view.stage,
                note=f"report {report.report_id}",
            )
            self._note_survey_complete(self._survey.actor if self._survey else SYSTEM)
            await self._write()

    async def _record(self, actor: Actor, action: str, to_stage: Stage, note: str = "") -> None:
        """Move to ``to_stage`` and write the case records before anything else happens."""
        self._note(actor, action, to_stage, note)
        await self._write()

    def _note(self, actor: Actor, action: str, to_stage: Stage, note: str = "") -> None:
        """Move to ``to_stage`` and put the step on the record to be written next."""
        self._seq += 1
        self._unwritten.append(
            AuditEntry(
                case_no=self.view.case_no,
                seq=self._seq,
                at=workflow.now(),
                actor=actor,
                action=action,
                from_stage=self.view.stage,
                to_stage=to_stage,
                note=note,
            )
        )
        self.view.stage = to_stage
        self.view.version = self._seq

    async def _write(self) -> None:
        """One activity writes the projection and every step noted since the last write."""
        entries, self._unwritten = self._unwritten, []
        snapshot = replace(self.view)
        await workflow.execute_activity(
            Activity.record_transition, Transition(view=snapshot, entries=entries), **QUICK
        )
        self._recorded = snapshot
        indexed = case_search_attributes(self.view)
        if indexed != self._indexed:  # each upsert is a visibility write on the server
            workflow.upsert_search_attributes(indexed)
            self._indexed = indexed
        self._wake = True

    async def _recompute_deadlines(self, actor: Actor, action: str | None) -> None:
        deadlines: Deadlines = await workflow.execute_activity(
            Activity.compute_deadlines,
            DeadlineFacts(
                accepted_on=local_date(self._start.accepted_at),
                policy=self._start.policy,
                pauses=list(self._pauses),
                refused_on=self._refused_on,
            ),
            result_type=Deadlines,
            **QUICK,
        )
        before = (self.view.survey_due, self.view.decision_due, self.view.provisional)
        self._deadlines = deadlines
        self.view.survey_due = deadlines.survey_due
        self.view.decision_due = deadlines.decision_due
        self.view.refusal_notice_due = deadlines.refusal_notice_due
        self.view.provisional = deadlines.provisional
        now = workflow.now()
        # A deadline moved into the future is no longer missed.
        self.view.survey_overdue &= end_of_day(deadlines.survey_due) <= now
        self.view.decision_overdue &= end_of_day(deadlines.decision_due) <= now
        if action and before != (
            deadlines.survey_due,
            deadlines.decision_due,
            deadlines.provisional,
        ):
            await self._record(
                actor,
                action,
                self.view.stage,
                note=f"survey due {deadlines.survey_due}, decision due {deadlines.decision_due}"
                + (" (provisional)" if deadlines.provisional else ""),
            )

    # ---- deadlines -------------------------------------------------------------------

    def _events(self) -> list[tuple[str, datetime]]:
        """The timed events still to come: (key, when). A key fires once."""
        view, d = self.view, self._deadlines
        events: list[tuple[str, datetime]] = []
        if view.stage == Stage.survey and view.surveyed_at is None and view.objections == 0:
            events.append((f"survey_overdue:{d.survey_due}", end_of_day(d.survey_due)))
        if view.stage in PAUSABLE or view.stage == Stage.notice:
            events.append(
                (f"decision_approaching:{d.decision_warning_on}", end_of_day(d.decision_warning_on))
            )
            events.append((f"decision_overdue:{d.decision_due}", end_of_day(d.decision_due)))
        if view.stage == Stage.notice and view.notice_ends_at:
            events.append((f"notice_ended:{view.notice_ends_at.isoformat()}", view.notice_ends_at))
        if (
            view.stage == Stage.refused
            and view.refusal_notified_at is None
            and d.refusal_notice_due
        ):
            events.append(
                (f"refusal_notice_overdue:{d.refusal_notice_due}", end_of_day(d.refusal_notice_due))
            )
        return [(key, when) for key, when in events if key not in self._fired]

    def _next_event_at(self) -> datetime | None:
        return min((when for _, when in self._events()), default=None)

    async def _fire_due_events(self) -> None:
        async with self._lock:
            for key, when in self._events():
                if when > workflow.now():
                    continue
                self._fired.add(key)
                kind = key.split(":", 1)[0]
                if kind == "notice_ended":
                    self._publicised = True
                    await self._record(SYSTEM, "notice_ended", Stage.decision, note="no objection")
                    continue
                if kind.endswith("_overdue"):
                    setattr(self.view, kind, True)
                await self._alert(kind, self._deadline_message(kind), key=key)

    async def _alert(self, kind: str, message: str, *, key: str | None = None) -> None:
        """Record it on the case and tell the caseworker and the district (站内通知)."""
        await self._record(SYSTEM, kind, self.view.stage, note=message)
        await workflow.execute_activity(
            Activity.notify_staff,
            StaffNotice(
                case_no=self.view.case_no,
                key=f"{self.view.case_no}:{key or kind}",
                kind=kind,
                message=message,
                assignee=self.view.assignee,
                township=self.view.township,
                at=workflow.now(),
            ),
            **QUICK,
        )

    def _deadline_message(self, kind: str) -> str:
        d = self._deadlines
        return {
            "survey_overdue": f"household survey was due to start by {d.survey_due}",
            "decision_approaching": f"decision due {d.decision_due}; "
            f"{self._start.policy.deadline_warning_working_days} working days remain",
            "decision_overdue": f"decision was due by {d.decision_due}",
            "refusal_notice_overdue": f"written refusal was due by {d.refusal_notice_due}",
        }[kind]

    # ---- outcome ---------------------------------------------------------------------

    async def _deliver_outcome(self) -> None:
        view, start = self.view, self._start
        if view.stage == Stage.approved and view.monthly_amount:
            try:
                receipt: PaymentReceipt = await workflow.execute_activity(
                    Activity.make_payment,
                    PaymentOrder(
                        case_no=view.case_no,
                        key=f"{view.case_no}:first-payment",
                        payee_name=start.applicant.name,
                        payee_id_number=start.applicant.id_number,
                        amount=view.monthly_amount,
                        purpose=f"{start.assistance_type.value}:first-payment",
                    ),
                    result_type=PaymentReceipt,
                    **EXTERNAL,
                )
            except ActivityError as refused:
                # The payment system refused for good (retries cover outages): on the record
                # and in front of the caseworker and the district, never dropped.
                async with self._lock:
                    await self._alert("payment_refused", f"payment system refused: {refused.cause}")
                return
            await self._notify_applicant(
                "approved",
                f"您的{_TYPE_NAMES[start.assistance_type]}申请（{view.case_no}）已批准，"
                f"金额{view.monthly_amount}元，已发放。",
            )
            async with self._lock:
                view.first_payment_at = workflow.now()
                await self._record(
                    SYSTEM, "first_payment_made", view.stage, note=f"transfer {receipt.transfer_id}"
                )
        elif view.stage == Stage.refused:
            reasons = self._decision.reasons if self._decision else ""
            sent = await self._notify_applicant(
                "refused",
                f"您的{_TYPE_NAMES[start.assistance_type]}申请（{view.case_no}）经审核不予批准，"
                f"理由：{reasons}。如有异议，可申请行政复议或提起行政诉讼。",
            )
            if not sent:
                return  # the written-refusal deadline still runs, and its breach is recorded
            async with self._lock:
                view.refusal_notified_at = workflow.now()
                await self._record(SYSTEM, "refusal_notice_sent", view.stage, note=reasons)

    async def _notify_applicant(self, template: str, text: str) -> bool:
        """SMS the applicant (called outside the lock). False when the SMS system refused it."""
        try:
            await workflow.execute_activity(
                Activity.notify_applicant,
                ApplicantNotice(
                    case_no=self._start.case_no,
                    key=f"{self._start.case_no}:{template}",
                    phone=self._start.applicant.phone,
                    template=template,
                    text=text,
                ),
                **EXTERNAL,
            )
            return True
        except ActivityError as refused:
            async with self._lock:
                await self._alert(
                    f"{template}_notice_refused", f"SMS system refused: {refused.cause}"
                )
            return False


_TYPE_NAMES = {
    AssistanceType.dibao: "最低生活保障",
    AssistanceType.tekun: "特困人员救助供养",
    AssistanceType.temporary: "临时救助",
}
