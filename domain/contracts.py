"""The activities a workflow may call, by name, with the message each takes and returns.

Workflows import only ``domain``; naming activities here keeps that true while the worker
registers the functions under the same names.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.benefits import BenefitDecision
from domain.cases import Actor, AuditEntry, BankAccount, CaseStart, CaseView, Person
from domain.emergency import EmergencyView
from domain.policy import Policy
from domain.reviews import ReviewView


class Activity:
    record_transition = "record_transition"
    compute_deadlines = "compute_deadlines"
    add_working_days = "add_working_days"
    verify_household = "verify_household"
    notify_applicant = "notify_applicant"
    notify_staff = "notify_staff"
    make_payment = "make_payment"
    hold_reserve = "hold_reserve"
    settle_reserve = "settle_reserve"
    release_reserve = "release_reserve"
    open_payroll = "open_payroll"
    make_payroll_items = "make_payroll_items"
    send_batch = "send_batch"
    settle_batch = "settle_batch"
    tell_batch = "tell_batch"
    close_payroll = "close_payroll"
    register_household = "register_household"
    reissue_order = "reissue_order"
    record_reissue = "record_reissue"
    apply_standard = "apply_standard"
    close_standard_change = "close_standard_change"
    decide_review = "decide_review"
    open_due_reviews = "open_due_reviews"
    referral_event = "referral_event"


@dataclass(frozen=True)
class Transition:
    """What the records activity writes: the case's newest view and the entries that explain it."""

    view: CaseView | EmergencyView | ReviewView
    entries: list[AuditEntry]


@dataclass(frozen=True)
class WorkingDaysAfter:
    """``days`` working days after ``start`` (which is not counted), on the calendar in the database."""

    start: date
    days: int


@dataclass(frozen=True)
class WorkingDay:
    day: date
    provisional: bool


@dataclass(frozen=True)
class VerificationRequest:
    case_no: str
    members: list[Person]
    attempt: int = 1
    """Asked again after a refusal (a supervisor's reverify): a new request to the platform."""

    @property
    def request_id(self) -> str:
        suffix = f":{self.attempt}" if self.attempt > 1 else ""
        return f"{self.case_no}:verification{suffix}"


@dataclass(frozen=True)
class ApplicantNotice:
    """An SMS to the applicant; ``key`` makes a resend a no-op (one notice per purpose)."""

    case_no: str
    key: str
    phone: str
    template: str  # accepted | approved | refused
    text: str


@dataclass(frozen=True)
class StaffNotice:
    """A deadline reminder or breach for the case's caseworker and the district (站内通知)."""

    case_no: str
    key: str
    kind: str  # survey_overdue | decision_approaching | decision_overdue | payout_reminder | …
    message: str
    assignee: str
    township: str
    at: datetime
    village: str = ""


@dataclass(frozen=True)
class PaymentOrder:
    """A transfer to the applicant. ``key`` is derived from the case, never from a run."""

    case_no: str
    key: str
    payee_name: str
    payee_id_number: str
    amount: Decimal
    purpose: str
    account: BankAccount | None = None
    """The family's account; None for an application approved before patch
    ``pay-into-bank-account`` (paid without one)."""
    recipient_no: str | None = None
    """A recipient household's payment for ``month``: the bank lists it under the household."""
    month: str | None = None


@dataclass(frozen=True)
class PaymentReceipt:
    transfer_id: str
    amount: Decimal


@dataclass(frozen=True)
class ReserveHold:
    """Hold ``amount`` on the township's reserve for the case (keyed: a retry holds once)."""

    township: str
    case_no: str
    amount: Decimal
    key: str


@dataclass(frozen=True)
class HoldOutcome:
    held: bool
    available: Decimal


@dataclass(frozen=True)
class ReserveSettlement:
    """The held money has gone to the family: it leaves the reserve; the payout is recorded
    against every member, for the one-payment-per-cause rule."""

    hold_key: str
    key: str
    members: list[str]
    cause: str


@dataclass(frozen=True)
class ReserveRelease:
    """The transfer was refused: the hold goes back to the reserve."""

    hold_key: str
    key: str


@dataclass(frozen=True)
class PayrollMonth:
    """A month's payroll of the district, and who started it (a user, or ``schedule``)."""

    month: str
    """``YYYY-MM``; empty for the Schedule's run, which pays the month it runs in."""
    started_by: str
    batch_size: int = 5_000
    townships_at_once: int = 0
    """How many townships' shares run at once (0: all): what one worker holds in memory at
    a time, whatever the district's size (patch ``payroll-in-waves``)."""


@dataclass(frozen=True)
class TownshipMonth:
    """A township's share of a month's payroll, in batches of at most ``batch_size`` lines."""

    month: str
    township: str
    batch_size: int


@dataclass(frozen=True)
class BatchRef:
    """One batch (代发文件) of a township and month."""

    month: str
    township: str
    part: int


@dataclass(frozen=True)
class BatchOutcome:
    """What the bank did with a batch, and whether its totals agree with the register's."""

    paid: int
    refused: int
    reconciled: bool
    difference: Decimal


@dataclass(frozen=True)
class Reissue:
    """A refused month of a household paid again, once, into its corrected account."""

    recipient_no: str
    month: str
    key: str


@dataclass(frozen=True)
class ReissueOutcome:
    """What the bank did with a re-issue: its transfer, or its reason for refusing it."""

    key: str
    transfer_id: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Registration:
    """An approved 低保 or 特困 household entering the register: what its case accepted, the
    account its payments go to, the amount, who approved it and when."""

    start: CaseStart
    account: BankAccount
    amount: Decimal
    approved_by: Actor
    approved_at: datetime
    first_payment_key: str
    care_form: str | None = None
    """特困: dispersed | centralised (``domain.tekun``)."""
    self_care: str | None = None
    institution: str | None = None
    """特困 in centralised care: the institution, the holder of ``account`` (the payee)."""
    review_cadence: str | None = None
    """定期核查 as the district chose at approval (None: the policy's for the type)."""
    assessed_income: Decimal | None = None
    """The household's monthly income as the case's survey assessed it."""


@dataclass(frozen=True)
class StandardChangeRun:
    """A new 低保 standard applied to the register from ``from_month``, a page of households at
    a time."""

    from_month: str
    page_size: int = 500
    after: str = ""
    """Where a run continued as new takes up the register: the last number done."""
    applied: int = 0
    """Households holding the new amount so far."""


@dataclass(frozen=True)
class StandardPage:
    """The households numbered after ``after`` (at most ``size``) under the new standard."""

    from_month: str
    after: str
    size: int


@dataclass(frozen=True)
class StandardPageDone:
    """How many households of the page hold the new amount; the last number read (None: the
    register is done)."""

    applied: int
    last: str | None


@dataclass(frozen=True)
class ReviewRuling:
    """The district's decision in a review, for the register to write on the household."""

    review_no: str
    recipient_no: str
    decision: BenefitDecision
    at: datetime
    policy: Policy
    assessed_income: Decimal | None = None
    """The household's monthly income as the review's survey assessed it (a new standard
    counts the household's amount from it)."""


@dataclass(frozen=True)
class ReviewRound:
    """The day's opening of the periodic reviews falling due (the Schedule's run)."""

    today: date | None = None
    """None: the day the round runs."""
