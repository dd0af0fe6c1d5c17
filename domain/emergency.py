"""The rules of emergency assistance (急难型临时救助): a family in an urgent crisis is paid from
the township's reserve within 24 hours of the request (先行救助), and the rest of the procedure
is completed afterwards (补办). ``EmergencyWorkflow`` is the durable shell that calls these,
holds and settles the reserve, pays and texts.

Request → approval (the township leader up to a limit, above it the district; above the band
一事一议 with a reason) → a hold on the reserve (or waiting for funds) → the transfer → paid →
the follow-up survey and township review within 10 working days → the district confirms.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.amounts import emergency_band
from domain.calendar import end_of_day, local_date
from domain.cases import (
    SYSTEM,
    Actor,
    Applicant,
    BankAccount,
    BankAccountRecord,
    Channel,
    DecisionRecord,
    HouseholdMember,
    PaymentAttempt,
    ReviewRecord,
    Role,
    SurveyRecord,
)
from domain.casework import (
    After,
    CaseFile,
    StaffAlert,
    TimedEvent,
)
from domain.errors import Conflict, InvalidData, NotPermitted, WrongStage
from domain.policy import Policy


class Cause(StrEnum):
    """What befell the family."""

    fire = "fire"  # 火灾
    accident = "accident"  # 意外事故
    disaster = "disaster"  # 自然灾害
    sudden_hardship = "sudden_hardship"  # 突发生活困难
    major_illness = "major_illness"  # 重特大疾病 (支出型)
    education = "education"  # 子女教育费用负担过重 (支出型)
    other = "other"


class NextStep(StrEnum):
    """What follows an emergency's confirmed follow-up (seed §5 衔接): a 低保 or 特困
    application opened for the family, or the family on the watch list."""

    dibao_application = "dibao_application"
    tekun_application = "tekun_application"
    watch_list = "watch_list"


class EmergencyStage(StrEnum):
    awaiting_approval = "awaiting_approval"  # 待审批
    awaiting_funds = "awaiting_funds"  # the reserve cannot cover it: waits for a top-up
    paying = "paying"  # held on the reserve; the transfer is under way
    awaiting_account = "awaiting_account"  # the bank refused the account: a corrected one is needed
    paid = "paid"  # 先行救助 done; the follow-up (补办) survey is due
    follow_up = "follow_up"  # surveyed; the township review and the district's confirmation
    closed = "closed"
    rejected = "rejected"
    cancelled = "cancelled"  # opened in error, cancelled by a supervisor
    halted = "halted"  # the case engine stopped the workflow (see ``Stage.halted``)
    closed_by_supervisor = "closed_by_supervisor"  # halted, then closed with reasons


UNPAID = (
    EmergencyStage.awaiting_approval,
    EmergencyStage.awaiting_funds,
    EmergencyStage.paying,
    EmergencyStage.awaiting_account,
)
"""Before the money is in the family's account (先行救助), in the order of the procedure."""
FOLLOWING_UP = (EmergencyStage.paid, EmergencyStage.follow_up)
"""Paid, the follow-up (补办) not yet confirmed: its due date stands, and moves with the calendar."""
OPEN = (*UNPAID, *FOLLOWING_UP)
"""Where an emergency waits for someone or something."""
CLOSED = frozenset(EmergencyStage).difference(OPEN)
"""Where no one acts on the emergency any more."""
CORRECTABLE = (
    EmergencyStage.awaiting_approval,
    EmergencyStage.awaiting_funds,
    EmergencyStage.awaiting_account,
)
"""Where a bank account may be corrected: before a transfer is under way, or after a refusal."""
WAITS_FOR = {
    EmergencyStage.awaiting_approval: "the approval (审批) of the township leader or the district",
    EmergencyStage.awaiting_funds: "a top-up of the township's emergency reserve (储备金)",
    EmergencyStage.paying: "the payment system's transfer",
    EmergencyStage.awaiting_account: "a corrected bank account for the family",
    EmergencyStage.paid: "the follow-up household survey (补办入户调查)",
    EmergencyStage.follow_up: "the township review and the district's confirmation (补办审核确认)",
}


class Event(StrEnum):
    payout_reminder = "payout_reminder"
    payout_overdue = "payout_overdue"
    follow_up_overdue = "follow_up_overdue"


@dataclass(frozen=True)
class EmergencyStart:
    """What the township assistant recorded at the request; the input of ``EmergencyWorkflow``."""

    case_no: str
    township: str
    village: str
    channel: Channel
    cause: Cause
    applicant: Applicant
    household: list[HouseholdMember]
    bank_account: BankAccount
    requested_amount: Decimal
    situation: str
    requested_at: datetime
    requested_by: Actor
    policy: Policy
    recent_payout: str | None = None
    """A case of the last ``emergency_repeat_days`` that paid this family, for any cause."""
    recipient_no: str | None = None
    """The family is a recipient household: its register number (建档号)."""
    dishonesty_flag: str | None = None
    """失信: a member belongs to a household found to have obtained aid dishonestly — which, and
    when (set at intake; not a refusal)."""
    referral_no: str | None = None
    """部门转介: the referral the request came from."""


@dataclass(frozen=True)
class ApprovalRecord:
    """审批: the amount to pay now, within the band and the approver's limit."""

    actor: Actor
    amount: Decimal
    note: str = ""


@dataclass(frozen=True)
class ExceptionApproval:
    """一事一议: a district officer approves what the rules would not (above the band, or a second
    payment within the window), with the reason on the record."""

    actor: Actor
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class RejectionRecord:
    actor: Actor
    reasons: str


@dataclass
class EmergencyView:
    """An emergency case as caseworkers see it; the bank account masked."""

    case_no: str
    stage: EmergencyStage
    township: str
    village: str
    channel: Channel
    cause: Cause
    applicant_name: str
    household_size: int
    assignee: str
    requested_at: datetime
    pay_by: datetime
    requested_amount: Decimal
    bank_account: str
    """Masked: the last four digits."""
    payment_attempt: int = 1
    """A new attempt after a refused transfer and a corrected account (its key says which)."""
    approved_amount: Decimal | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    exception_reason: str | None = None
    waiting_for_funds_since: datetime | None = None
    paid_at: datetime | None = None
    payments: list[PaymentAttempt] = field(default_factory=list)
    follow_up_due: date | None = None
    extended_working_days: int = 0
    """Added to the follow-up's time by a supervisor or the district (extend-deadline)."""
    surveyed_at: datetime | None = None
    reviewed_at: datetime | None = None
    found_eligible: bool | None = None
    confirmed_at: datetime | None = None
    rejected_at: datetime | None = None
    closed_at: datetime | None = None
    payout_overdue: bool = False
    follow_up_overdue: bool = False
    version: int = 0
    stage_since: datetime | None = None
    stage_hours: dict[str, float] = field(default_factory=dict)
    notice_refused: bool = False
    """An SMS to the family was refused by the SMS system."""
    assigned_at: datetime | None = None
    """When a supervisor last gave the case to its assignee."""
    halted_from: str | None = None
    """The stage the case was at when the case engine halted its workflow."""
    reconciled_at: datetime | None = None
    """When a halted case's payments were reconciled with the bank."""
    recipient_no: str | None = None
    """The family is a recipient household: its register number (建档号)."""
    hold_round: int = 0
    """A hold released when the case was reconciled is placed again under a new key when the
    case restarts (the transfer keeps its key: the bank pays it once)."""
    dishonesty_flag: str | None = None
    """失信: a member belongs to a household found to have obtained aid dishonestly — which, and
    when (set at intake; not a refusal)."""
    referral_no: str | None = None
    """部门转介: the referral the request came from."""
    next_step: NextStep | None = None
    """What the district's confirmation of the follow-up said follows (衔接)."""

    @property
    def overdue(self) -> bool:
        return self.payout_overdue or self.follow_up_overdue

    @property
    def hold_key(self) -> str:
        """The reserve hold of the present payment attempt (a top-up places it too)."""
        return hold_key(self.case_no, self.payment_attempt, self.hold_round)

    @property
    def longest_stage(self) -> str | None:
        return max(self.stage_hours, key=self.stage_hours.__getitem__, default=None)


@dataclass(kw_only=True)
class Emergency(CaseFile):
    """An emergency case from the request to the district's confirmation."""

    view: EmergencyView
    start: EmergencyStart
    account: BankAccount
    rejection: RejectionRecord | None = None
    follow_up_extension: int = 0
    """Working days a supervisor or the district added to the follow-up's time (never hidden;
    the view shows it as ``extended_working_days``)."""

    open_stages = OPEN
    waits_for = WAITS_FOR
    account_stages = CORRECTABLE
    extendable = FOLLOWING_UP

    @classmethod
    def requested(cls, start: EmergencyStart) -> "Emergency":
        view = EmergencyView(
            case_no=start.case_no,
            stage=EmergencyStage.awaiting_approval,
            township=start.township,
            village=start.village,
            channel=start.channel,
            cause=start.cause,
            applicant_name=start.applicant.name,
            household_size=1 + len(start.household),
            assignee=start.requested_by.user_id,
            requested_at=start.requested_at,
            pay_by=start.requested_at + timedelta(hours=start.policy.emergency_payout_hours),
            requested_amount=start.requested_amount,
            bank_account=start.bank_account.masked,
            stage_since=start.requested_at,
            recipient_no=start.recipient_no,
            dishonesty_flag=start.dishonesty_flag,
            referral_no=start.referral_no,
        )
        return cls(view=view, start=start, account=start.bank_account)

    @property
    def started_at(self) -> datetime:
        return self.start.requested_at

    @property
    def attempt(self) -> int:
        return self.view.payment_attempt

    @property
    def members(self) -> list[str]:
        return [self.start.applicant.id_number, *(m.id_number for m in self.start.household)]

    @property
    def hold_key(self) -> str:
        return self.view.hold_key

    @property
    def payment_key(self) -> str:
        return payment_key(self.view.case_no, self.attempt)

    def resume(
        self, *, actor: Actor, reason: str, now: datetime, after_seq: int, hold_released: bool
    ) -> None:
        """Restarted after a halt: a hold the reconciliation released (no transfer was made) is
        placed again under a new key; the transfer keeps its key, so the bank pays it once."""
        if hold_released:
            self.view.hold_round += 1
        super().resume(actor=actor, reason=reason, now=now, after_seq=after_seq)

    # ---- 审批 ----------------------------------------------------------------------------

    def check_approval(self, approval: ApprovalRecord, *, now: datetime) -> None:
        self.require(EmergencyStage.awaiting_approval)
        policy, township = self.start.policy, self.start.township
        actor = approval.actor
        if actor.role == Role.township_approver and actor.jurisdiction != township:
            raise NotPermitted(f"only a leader of township {township} approves its emergencies")
        self._check_amount(approval.amount)
        low, high = emergency_band(policy=policy, year=local_date(now).year, cause=self.start.cause)
        if not low <= approval.amount <= high:
            raise InvalidData(
                "amount",
                f"¥{approval.amount} is outside the band ¥{low}–¥{high} for {self.start.cause}; "
                "a different amount is 一事一议: a district officer approves it with a reason "
                "(exception-approval)",
            )
        if (
            actor.role == Role.township_approver
            and approval.amount > policy.township_approval_limit
        ):
            raise NotPermitted(
                f"a township leader approves up to ¥{policy.township_approval_limit}; "
                f"¥{approval.amount} needs a district officer"
            )
        if self.start.recent_payout:
            raise Conflict(
                f"this family was paid an emergency payment by case {self.start.recent_payout} "
                f"within the last {policy.emergency_repeat_days} days; another one within that "
                "time, whatever its cause, is 一事一议: a district officer may approve it with a "
                "reason (exception-approval)"
            )

    def check_exception_approval(
        self, approval: ExceptionApproval, *, now: datetime, raises_only: bool = True
    ) -> None:
        """一事一议 raises an amount (适度提高): never below the cause's band.
        ``raises_only`` False: the rule before patch ``exception-only-raises`` (an approval
        accepted then, replayed by its workflow)."""
        self.require(EmergencyStage.awaiting_approval)
        if approval.actor.role != Role.district_officer:
            raise NotPermitted("一事一议 is approved by a district officer")
        self._check_amount(approval.amount)
        if not approval.reason.strip():
            raise InvalidData("reason", "一事一议 states its reason")
        cause = self.start.cause
        low, high = emergency_band(policy=self.start.policy, year=local_date(now).year, cause=cause)
        if raises_only and approval.amount < low:
            raise InvalidData(
                "amount",
                f"¥{approval.amount} is below the band ¥{low}–¥{high} for {cause}; 一事一议 only "
                "raises an amount (适度提高): approve an amount within the band (approval), or "
                "above it here",
            )

    def _check_amount(self, amount: Decimal) -> None:
        ceiling = self.start.policy.payment_ceiling
        if not Decimal("0.01") <= amount <= ceiling:
            raise InvalidData("amount", f"an emergency payment is between ¥0.01 and ¥{ceiling}")

    def approve(self, approval: ApprovalRecord | ExceptionApproval, *, now: datetime) -> After:
        """The amount is approved; the workflow then holds it on the reserve, and answers once
        the hold is placed or found short."""
        exception = isinstance(approval, ExceptionApproval)
        view = self.view
        view.approved_amount, view.approved_by, view.approved_at = (
            approval.amount,
            approval.actor.user_id,
            now,
        )
        view.exception_reason = approval.reason if exception else None
        note = f"¥{approval.amount}" + (
            f" 一事一议: {approval.reason}" if exception else f" {approval.note}".rstrip()
        )
        action = "exception_approved" if exception else "approved"
        self.step(approval.actor, action, EmergencyStage.paying, now, note=note)
        return After(await_hold=True)

    def check_rejection(self, rejection: RejectionRecord) -> None:
        self.require(EmergencyStage.awaiting_approval)
        if rejection.actor.role == Role.township_approver and (
            rejection.actor.jurisdiction != self.start.township
        ):
            raise NotPermitted(f"only a leader of township {self.start.township} decides here")
        if not rejection.reasons.strip():
            raise InvalidData("reasons", "a rejection gives its reasons; the family is told them")

    def reject(self, rejection: RejectionRecord, *, now: datetime) -> None:
        self.rejection = rejection
        self.view.rejected_at = self.view.closed_at = now
        self.step(rejection.actor, "rejected", EmergencyStage.rejected, now, note=rejection.reasons)

    # ---- the reserve and the transfer ---------------------------------------------------

    def funds_short(self, *, available: Decimal, now: datetime) -> StaffAlert:
        """The reserve cannot cover the payment: the case waits, and the district is told."""
        self.view.waiting_for_funds_since = now
        amount = self.view.approved_amount
        self.step(SYSTEM, "awaiting_funds", EmergencyStage.awaiting_funds, now, note=f"¥{amount}")
        return StaffAlert(
            "awaiting_funds",
            f"case {self.view.case_no} waits for ¥{amount} from the reserve of township "
            f"{self.start.township} (available ¥{available}); a top-up pays it",
            key=f"awaiting_funds:{self.attempt}",
        )

    def funds_held(self, *, now: datetime) -> None:
        self.view.waiting_for_funds_since = None
        self.step(
            SYSTEM, "reserve_held", EmergencyStage.paying, now, note=f"¥{self.view.approved_amount}"
        )

    def paid(self, transfer_id: str, *, now: datetime) -> After:
        """先行救助 done; the follow-up deadline is counted next (working days)."""
        view = self.view
        view.paid_at = now
        view.payments.append(self._attempt("settled", now, transfer_id=transfer_id))
        self.step(SYSTEM, "paid", EmergencyStage.paid, now, note=f"transfer {transfer_id}")
        return After(recount=True)

    def set_follow_up_due(self, due: date) -> None:
        self.view.follow_up_due = due

    def follow_up_recounted(self, due: date, *, now: datetime) -> None:
        """The holiday calendar changed and the follow-up's due date was counted again: a move
        goes on the record. Missed when its event fired for the date now in force, or when it
        was missed and the date it moved to is past too."""
        view = self.view
        before = view.follow_up_due
        if view.stage not in FOLLOWING_UP or due == before:
            return
        view.follow_up_due = due
        view.follow_up_overdue = f"{Event.follow_up_overdue}:{due}" in self.fired or (
            view.follow_up_overdue and end_of_day(due) <= now
        )
        note = f"follow-up due {due} (was {before})"
        self.step(SYSTEM, "calendar_published", view.stage, now, note=note)

    def payment_refused(self, reason: str, *, now: datetime) -> After:
        """Refused for good (closed account, name mismatch): the hold is released by the
        workflow, and a caseworker must record a corrected account."""
        self.view.payments.append(self._attempt("refused", now, reason=reason))
        self.step(SYSTEM, "payment_refused", EmergencyStage.awaiting_account, now, note=reason)
        message = (
            f"the payment system refused the transfer to {self.account.masked}: {reason}; "
            "record the family's corrected bank account"
        )
        key = f"payment_refused:{self.attempt}"
        return After(alert=StaffAlert("payment_refused", message, key=key))

    def _attempt(self, status: str, now: datetime, **details: str) -> PaymentAttempt:
        return PaymentAttempt(
            attempt=self.attempt,
            amount=self.view.approved_amount or Decimal(0),
            account=self.account.masked,
            status=status,
            at=now,
            **details,
        )

    @property
    def transfer_under_way(self) -> bool:
        return self.view.stage == EmergencyStage.paying

    def correct_bank_account(self, record: BankAccountRecord, *, now: datetime) -> After:
        """A new account; after a refusal the payment starts again as a new attempt (answered
        once its hold is placed or found short)."""
        self.account = record.account
        self.view.bank_account = record.account.masked
        refused = self.view.stage == EmergencyStage.awaiting_account
        if refused:
            self.view.payment_attempt += 1
        to_stage = EmergencyStage.paying if refused else self.view.stage
        self.step(record.actor, "bank_account_corrected", to_stage, now, note=record.account.masked)
        return After(await_hold=True)

    # ---- 补办: the follow-up -------------------------------------------------------------

    def check_survey(self, survey: SurveyRecord, *, today: date) -> None:
        self.require(EmergencyStage.paid)
        self.check_survey_record(survey, today=today)

    def record_survey(self, survey: SurveyRecord, *, now: datetime) -> None:
        self.note_survey(survey, "follow_up_survey_recorded", EmergencyStage.follow_up, now)

    def check_review(self, review: ReviewRecord) -> None:
        self.require(EmergencyStage.follow_up)
        if self.review is not None:
            raise Conflict(f"case {self.view.case_no} was reviewed; it waits for the district")
        if review.recommendation not in ("approve", "refuse"):
            raise InvalidData("recommendation", "'approve' (eligible) or 'refuse' (not eligible)")
        if not review.reasons.strip():
            raise InvalidData("reasons", "a review gives its reasons")

    def record_review(self, review: ReviewRecord, *, now: datetime) -> After | None:
        """The township's finding; a family found not eligible is put before the district
        (recovering the money is a human decision, never automatic)."""
        self.review = review
        eligible = review.recommendation == "approve"
        self.view.reviewed_at, self.view.found_eligible = now, eligible
        action = "follow_up_found_eligible" if eligible else "follow_up_found_ineligible"
        self.step(review.actor, action, EmergencyStage.follow_up, now, note=review.reasons)
        if eligible:
            return None
        message = (
            f"the follow-up found the family of case {self.view.case_no} not eligible "
            f"(¥{self.view.approved_amount} paid): {review.reasons}; the district decides what follows"
        )
        return After(alert=StaffAlert("follow_up_found_ineligible", message))

    def check_confirmation(self, decision: DecisionRecord) -> None:
        self.require(EmergencyStage.follow_up)
        if self.review is None:
            raise Conflict(f"case {self.view.case_no} waits for the township review first")
        if decision.outcome not in ("approve", "refuse"):
            raise InvalidData("outcome", "'approve' (eligible) or 'refuse' (not eligible)")
        if not decision.reasons.strip():
            raise InvalidData("reasons", "a decision gives its reasons")
        if decision.next_step is not None and decision.next_step not in set(NextStep):
            raise InvalidData("next_step", f"one of {', '.join(NextStep)}, or none")

    def confirm(self, decision: DecisionRecord, *, now: datetime) -> None:
        """审核确认 by the district closes the case; what follows (衔接), if anything, is on
        the record (the service that took the decision opens it)."""
        self.view.confirmed_at = self.view.closed_at = now
        self.view.next_step = NextStep(decision.next_step) if decision.next_step else None
        action = "confirmed_eligible" if decision.outcome == "approve" else "confirmed_ineligible"
        note = decision.reasons
        if decision.next_step:
            note += f" | next step: {decision.next_step}"
        self.step(decision.actor, action, EmergencyStage.closed, now, note=note)

    # ---- 督办: a supervisor's interventions ---------------------------------------------

    def check_reverify(self) -> None:
        raise InvalidData("action", "an emergency is paid before any verification")

    def check_reopen(self, to_stage: str) -> None:
        self.require(EmergencyStage.follow_up)
        if to_stage != EmergencyStage.paid:
            raise InvalidData("to_stage", "the follow-up can go back to paid (survey again)")

    def check_cancel(self) -> None:
        """Before its transfer, or after the bank refused it."""
        if self.transfer_under_way:
            raise WrongStage(f"the transfer of case {self.view.case_no} is under way")
        self.require(*CORRECTABLE)

    def reopen(self, actor: Actor, to_stage: str, *, now: datetime, reason: str) -> None:
        """The follow-up is surveyed and reviewed again."""
        self.survey = self.review = None
        self.view.surveyed_at = self.view.reviewed_at = self.view.found_eligible = None
        self.step(actor, "reopened", EmergencyStage.paid, now, note=reason)

    @property
    def extended(self) -> int:
        return self.follow_up_extension

    def extend(self, working_days: int) -> None:
        self.follow_up_extension += working_days
        self.view.extended_working_days = self.follow_up_extension

    # ---- timed events --------------------------------------------------------------------

    def events(self) -> list[TimedEvent]:
        view, policy = self.view, self.start.policy
        events: list[TimedEvent] = []
        if view.stage in UNPAID:
            for hours in policy.emergency_reminder_hours:
                at = view.requested_at + timedelta(hours=hours)
                events.append(
                    TimedEvent(Event.payout_reminder, at, f"{Event.payout_reminder}:{hours}h")
                )
            events.append(TimedEvent(Event.payout_overdue, view.pay_by, Event.payout_overdue))
        if view.follow_up_due and view.stage in FOLLOWING_UP and view.reviewed_at is None:
            due = view.follow_up_due
            events.append(
                TimedEvent(
                    Event.follow_up_overdue, end_of_day(due), f"{Event.follow_up_overdue}:{due}"
                )
            )
        return events

    def fire(self, event: TimedEvent, *, now: datetime) -> StaffAlert:
        """Reminders and breaches are on the record and before people; none decides the case."""
        view = self.view
        match event.kind:
            case Event.payout_reminder:
                left = view.pay_by - now
                message = (
                    f"emergency case {view.case_no} is not paid yet; "
                    f"{left.total_seconds() / 3600:.0f} hours remain until {view.pay_by:%Y-%m-%d %H:%M} UTC"
                )
            case Event.payout_overdue:
                view.payout_overdue = True
                message = f"emergency case {view.case_no} was due to be paid within 24 hours, by {view.pay_by:%Y-%m-%d %H:%M} UTC"
            case Event.follow_up_overdue:
                view.follow_up_overdue = True
                message = f"the follow-up (补办) survey and review were due by {view.follow_up_due}"
            case _:
                raise ValueError(f"an emergency has no timed event {event.kind!r}")
        return StaffAlert(event.kind, message, key=event.key)


def payment_key(case_no: str, attempt: int) -> str:
    """The transfer's idempotency key: from the case and the attempt, never from a run."""
    return f"{case_no}:emergency:{attempt}"


def settlement_key(hold: str) -> str:
    """The ledger entry that settles a hold (the transfer was made)."""
    return f"{hold}:settle"


def release_key(hold: str) -> str:
    """The ledger entry that releases a hold (no transfer was made)."""
    return f"{hold}:release"


def hold_key(case_no: str, attempt: int, round: int = 0) -> str:
    """A hold on the reserve, keyed by the case, the payment attempt and (after a hold was
    released by reconciling a halted case) the round."""
    return f"{case_no}:hold:{attempt}" + (f":{round}" if round else "")
