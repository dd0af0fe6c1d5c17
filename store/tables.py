"""SQLModel tables. The workflow owns a case's stage; ``case_record`` is its projection."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.types import Money, UTCDateTime


def _utc(**kwargs) -> Column:
    return Column(UTCDateTime(), **kwargs)


class CaseRecord(SQLModel, table=True):
    """One row per case, rewritten at each transition (newest ``version`` wins)."""

    __tablename__ = "case_record"

    case_no: str = Field(primary_key=True)
    assistance_type: str = Field(index=True)
    stage: str = Field(index=True)
    township: str = Field(index=True)
    village: str = Field(index=True)
    channel: str
    applicant_name: str
    applicant_id_number: str = Field(index=True)
    """Masked: region code and last four (the full number is in the sealed intake)."""
    household_size: int
    assignee: str
    conflict_of_interest: bool = False
    accepted_at: datetime = Field(sa_column=_utc(nullable=False))
    survey_due: date
    decision_due: date = Field(index=True)
    provisional: bool = Field(default=False, index=True)
    paused_from: str | None = None
    surveyed_at: datetime | None = Field(default=None, sa_column=_utc())
    reviewed_at: datetime | None = Field(default=None, sa_column=_utc())
    notice_started_at: datetime | None = Field(default=None, sa_column=_utc())
    notice_ends_at: datetime | None = Field(default=None, sa_column=_utc())
    decided_at: datetime | None = Field(default=None, sa_column=_utc())
    closed_at: datetime | None = Field(default=None, sa_column=_utc())
    refusal_notice_due: date | None = None
    refusal_notified_at: datetime | None = Field(default=None, sa_column=_utc())
    first_payment_at: datetime | None = Field(default=None, sa_column=_utc())
    monthly_amount: Decimal | None = Field(default=None, sa_column=Column(Money()))
    objections: int = 0
    survey_overdue: bool = False
    decision_overdue: bool = False
    refusal_notice_overdue: bool = False
    overdue: bool = Field(default=False, index=True)
    version: int = 0
    view: str = "{}"
    """The whole case view as JSON, as the workflow last wrote it."""
    stage_since: datetime | None = Field(default=None, sa_column=_utc())
    visited_on: date | None = None
    paused_working_days: int = 0
    original_decision_due: date | None = None
    extended_working_days: int = 0
    longest_stage: str | None = None
    verification_refused: bool = False
    notice_refused: bool = False
    awaiting_bank_account: bool = False
    assigned_at: datetime | None = Field(default=None, sa_column=_utc())
    engine_problem: str | None = None
    """What the case engine's watch found wrong (a failing workflow task, no workflow); cleared
    by the workflow's next write."""
    start: str | None = None
    """What was accepted (the workflow's input) as JSON, to start a workflow lost at intake."""
    halted_from: str | None = None
    reconciled_at: datetime | None = Field(default=None, sa_column=_utc())


NOT_IN_VIEW = frozenset({"applicant_id_number", "view", "start", "engine_problem"})
"""The columns of ``case_record`` and ``emergency_record`` that are no field of the case's view
(``CaseView``, ``EmergencyView``): the applicant's masked ID number, the view itself as JSON,
the sealed intake, and what the engine's watch found. Every other column is the view's field
(or property) of its name and type (``tests/test_records.py``)."""


class AuditEntryRecord(SQLModel, table=True):
    """The audit trail (留痕): append-only, one row per (case, seq)."""

    __tablename__ = "audit_entry"
    # AUTOINCREMENT: SQLite never gives a deleted entry's id to a new one (without it, the
    # next entry takes max(id) + 1, and a deleted newest entry's id comes back). PostgreSQL's
    # sequence never goes back either.
    __table_args__ = (UniqueConstraint("case_no", "seq"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    case_no: str = Field(index=True)
    seq: int
    at: datetime = Field(sa_column=_utc(nullable=False))
    user_id: str
    user_name: str
    role: str
    action: str
    from_stage: str | None = None
    to_stage: str
    note: str = ""
    prev_hash: str
    """The ``hash`` of the case's entry before this one by seq (``domain.evidence.GENESIS``
    for its first)."""
    hash: str
    """SHA-256 of this entry's content and ``prev_hash`` (``domain.evidence.entry_hash``)."""


class CaseHead(SQLModel, table=True):
    """Each case's newest audit entry, written in the transaction that appends it: an entry
    deleted from the end of a trail (where no later entry's ``prev_hash`` misses it) still
    shows, as the head names it (``store.evidence``)."""

    __tablename__ = "case_head"

    case_no: str = Field(primary_key=True)
    seq: int
    hash: str
    entry_id: int
    """The ``id`` of that entry."""


class AuditSeal(SQLModel, table=True):
    """A seal over the audit trail: ``root`` chains the previous seal's root and the hashes of
    the entries with id in (the previous seal's ``up_to_id``, ``up_to_id``], in id order, so
    that an entry deleted whole (a case's last, or a whole case) shows. Written by the
    worker's watch; ``seq`` is the key, so two workers cannot both write the next one."""

    __tablename__ = "audit_seal"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    up_to_id: int
    root: str
    sealed_at: datetime = Field(sa_column=_utc(nullable=False))


class HouseholdClaim(SQLModel, table=True):
    """A person in an open case of a type: the unique key that stops duplicate applications.
    The person is their ID number's keyed hash, never the number (``store.hashed_ids``)."""

    __tablename__ = "household_claim"

    assistance_type: str = Field(primary_key=True)
    id_number_hash: str = Field(primary_key=True)
    """HMAC-SHA256 of the ID number under ``key_id``'s hashing key (``KeyRing.index``), hex."""
    key_id: str
    case_no: str = Field(index=True)


class CaseCounter(SQLModel, table=True):
    __tablename__ = "case_counter"

    year: int = Field(primary_key=True)
    last: int = 0


class CalendarYear(SQLModel, table=True):
    """A year whose State Council holiday notice has been entered by the admin."""

    __tablename__ = "calendar_year"

    year: int = Field(primary_key=True)
    published_by: str
    published_at: datetime = Field(sa_column=_utc(nullable=False))


class CalendarDay(SQLModel, table=True):
    __tablename__ = "calendar_day"

    day: date = Field(primary_key=True)
    year: int = Field(index=True)
    kind: str  # holiday | workday


class TownshipRow(SQLModel, table=True):
    __tablename__ = "township"

    code: str = Field(primary_key=True)
    name: str
    area: str


class VillageRow(SQLModel, table=True):
    __tablename__ = "village"

    code: str = Field(primary_key=True)
    township_code: str = Field(foreign_key="township.code", index=True)
    name: str
    area: str = "urban"
    """urban (社区, 居委会) or rural (村): which 低保 standard its households get."""


class IdempotencyRecord(SQLModel, table=True):
    """A request sent with an ``Idempotency-Key``: claimed while it runs, then its answer,
    replayed to a retry. The fingerprint binds the key to that one request."""

    __tablename__ = "idempotency_record"

    user_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    fingerprint: str
    """SHA-256 of the method, path, query and body: never the body itself."""
    status_code: int | None = None
    body: str | None = None
    created_at: datetime = Field(sa_column=_utc(nullable=False, index=True))
    claimed_until: datetime | None = Field(default=None, sa_column=_utc())
    """While the first request runs; past it, a retry may run the request again."""


class StaffNotification(SQLModel, table=True):
    """Deadline reminders and breaches for the case's caseworker and the district."""

    __tablename__ = "staff_notification"

    key: str = Field(primary_key=True)
    case_no: str = Field(index=True)
    kind: str
    message: str
    assignee: str = Field(index=True)
    township: str = Field(index=True)
    village: str = Field(default="", index=True)
    at: datetime = Field(sa_column=_utc(nullable=False))


class EmergencyRecord(SQLModel, table=True):
    """One row per emergency case (急难型临时救助), rewritten at each transition."""

    __tablename__ = "emergency_record"

    case_no: str = Field(primary_key=True)
    stage: str = Field(index=True)
    township: str = Field(index=True)
    village: str = Field(index=True)
    channel: str
    cause: str = Field(index=True)
    applicant_name: str
    applicant_id_number: str = Field(index=True)
    """Masked: region code and last four (the full number is in the sealed intake)."""
    household_size: int
    assignee: str
    requested_at: datetime = Field(sa_column=_utc(nullable=False, index=True))
    pay_by: datetime = Field(sa_column=_utc(nullable=False, index=True))
    requested_amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    approved_amount: Decimal | None = Field(default=None, sa_column=Column(Money()))
    approved_at: datetime | None = Field(default=None, sa_column=_utc())
    paid_at: datetime | None = Field(default=None, sa_column=_utc())
    follow_up_due: date | None = None
    closed_at: datetime | None = Field(default=None, sa_column=_utc())
    payout_overdue: bool = False
    follow_up_overdue: bool = False
    overdue: bool = Field(default=False, index=True)
    version: int = 0
    view: str = "{}"
    """The whole case view as JSON, as the workflow last wrote it."""
    stage_since: datetime | None = Field(default=None, sa_column=_utc())
    reviewed_at: datetime | None = Field(default=None, sa_column=_utc())
    longest_stage: str | None = None
    notice_refused: bool = False
    assigned_at: datetime | None = Field(default=None, sa_column=_utc())
    engine_problem: str | None = None
    start: str | None = None
    halted_from: str | None = None
    reconciled_at: datetime | None = Field(default=None, sa_column=_utc())


class ActivityRetry(SQLModel, table=True):
    """A call to an external system that failed and waits for its next attempt: set by the
    worker when an attempt fails, cleared when one succeeds. Supervision reads the details
    from the workflow's own description."""

    __tablename__ = "activity_retry"

    case_no: str = Field(primary_key=True)
    activity: str = Field(primary_key=True)
    attempt: int
    last_failure: str
    failed_at: datetime = Field(sa_column=_utc(nullable=False))


# The emergency reserve (临时救助储备金) of each township: its money lives here, never in a
# workflow. Its amounts are whole fen in BIGINT columns (``*_fen``), not ``Money``: ``Money``
# is text on SQLite, where a CHECK such as ``balance >= held`` would compare strings ("9.00"
# > "10.00"), and the CHECKs below are what makes over-spending impossible under any
# interleaving of transactions. Integers compare as numbers on both databases, add exactly,
# and the ``_fen`` in a name tells anyone writing SQL by hand which unit they hold. The store
# functions (``store.reserve``) take and give Decimal yuan; each row also reads as yuan.


class TownshipReserve(SQLModel, table=True):
    """One row per township: the money in its reserve and the part held for payments under
    way. ``balance_fen - held_fen`` is what a new emergency payment may still hold."""

    __tablename__ = "township_reserve"
    __table_args__ = (
        CheckConstraint("held_fen >= 0", name="ck_township_reserve_held_not_negative"),
        CheckConstraint("balance_fen >= held_fen", name="ck_township_reserve_held_covered"),
        CheckConstraint("minimum_fen >= 0", name="ck_township_reserve_minimum_not_negative"),
    )

    township: str = Field(primary_key=True, foreign_key="township.code")
    balance_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))
    held_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))
    minimum_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))

    @property
    def balance(self) -> Decimal:
        return Decimal(self.balance_fen).scaleb(-2)

    @property
    def held(self) -> Decimal:
        return Decimal(self.held_fen).scaleb(-2)

    @property
    def minimum(self) -> Decimal:
        return Decimal(self.minimum_fen).scaleb(-2)


class ReserveEntry(SQLModel, table=True):
    """The reserve's ledger, append-only: one row per top-up, hold, settlement or release,
    with the reserve as it stood after it, so a township's entries read as a statement.

    Every entry has a ``key`` (idempotency: a retried call finds its entry and writes nothing).
    A settlement or release names the hold it closes in ``closes``, unique: a hold is closed
    once, by one of them, whatever runs at the same time."""

    __tablename__ = "reserve_entry"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="ck_reserve_entry_amount_positive"),
        CheckConstraint(
            "held_after_fen >= 0 AND balance_after_fen >= held_after_fen",
            name="ck_reserve_entry_after_covered",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    township: str = Field(foreign_key="township_reserve.township", index=True)
    kind: str  # domain.reserve.EntryKind
    amount_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))
    case_no: str | None = Field(default=None, index=True)
    closes: str | None = Field(default=None, unique=True)
    """The key of the hold a settle or release entry closes."""
    note: str = ""
    by_user: str
    at: datetime = Field(sa_column=_utc(nullable=False))
    balance_after_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))
    held_after_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_fen).scaleb(-2)

    @property
    def balance_after(self) -> Decimal:
        return Decimal(self.balance_after_fen).scaleb(-2)

    @property
    def held_after(self) -> Decimal:
        return Decimal(self.held_after_fen).scaleb(-2)


class EmergencyPayout(SQLModel, table=True):
    """A person in a household paid an emergency payment (one row per member per settled
    payment): a second one to the same family within 90 days, whatever its cause, is the
    district's 一事一议. The person is their ID number's keyed hash (``store.hashed_ids``);
    the key leads, so the look-up by people uses it."""

    __tablename__ = "emergency_payout"

    id_number_hash: str = Field(primary_key=True)
    """HMAC-SHA256 of the ID number under ``key_id``'s hashing key (``KeyRing.index``), hex."""
    case_no: str = Field(primary_key=True)
    key_id: str
    cause: str
    paid_at: datetime = Field(sa_column=_utc(nullable=False))


# ---- the register of recipient households and the monthly payroll -------------------------


class RecipientRecord(SQLModel, table=True):
    """A recipient household (建档立卡), one row, rewritten at each change (newest ``version``
    wins); its course of decisions in ``view``, its trail in ``audit_entry`` under its number."""

    __tablename__ = "recipient"

    recipient_no: str = Field(primary_key=True)
    case_no: str = Field(index=True)
    assistance_type: str = Field(index=True)
    township: str = Field(index=True)
    village: str = Field(index=True)
    applicant_name: str
    household_size: int
    monthly_amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    start_month: str
    status: str = Field(index=True)
    bank_account: str
    """Masked: the last four digits (the account itself is sealed in ``payee``)."""
    registered_at: datetime = Field(sa_column=_utc(nullable=False))
    version: int = 0
    view: str = "{}"
    """The whole ``RecipientView`` as JSON."""
    payee: str
    """Sealed: the account it is paid into, its holder's ID number, the applicant's phone
    (``store.recipients.Payee``); the household's members are its case's sealed intake."""
    care_form: str | None = None
    """特困: dispersed | centralised (for the centralised-care share in the compliance report)."""
    self_care: str | None = None
    """特困: full | partial | none."""
    review_due: date | None = Field(default=None, index=True)
    """When its next periodic review (定期核查) is due."""
    open_review: str | None = None
    """The review under way, if any (one at a time)."""


class RecipientCounter(SQLModel, table=True):
    """Recipient numbers, a sequence per type and year."""

    __tablename__ = "recipient_counter"

    assistance_type: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    last: int = 0


class PayrollRecord(SQLModel, table=True):
    """A month's payroll of the district."""

    __tablename__ = "payroll"

    month: str = Field(primary_key=True)
    status: str
    started_at: datetime = Field(sa_column=_utc(nullable=False))
    started_by: str
    """The district officer's user id, or ``schedule``."""
    completed_at: datetime | None = Field(default=None, sa_column=_utc())


class PayrollItem(SQLModel, table=True):
    """A household's payment for a month: one row per household and month, whatever paid it
    (the approval's first payment, a batch line, a re-issue)."""

    __tablename__ = "payroll_item"
    __table_args__ = (Index("ix_payroll_item_month_township_part", "month", "township", "part"),)

    recipient_no: str = Field(primary_key=True)
    month: str = Field(primary_key=True)
    township: str
    part: int = 0
    """The batch of the township and month it goes in (0: paid outside a batch)."""
    amount_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))
    status: str = Field(index=True)
    key: str = Field(unique=True)
    """The payment's idempotency key at the bank."""
    transfer_id: str | None = None
    reason: str = ""
    """The bank's reason for refusing it."""
    decided_at: datetime | None = Field(default=None, sa_column=_utc())
    account: str = ""
    """The account it was sent to, masked."""
    reissue_key: str | None = Field(default=None, unique=True)
    """The key of its latest re-issue (a refused item paid again into a corrected account)."""
    reissues: int = 0
    notified: bool = False
    """The family was texted (paid), or staff told (refused)."""

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_fen).scaleb(-2)


class PayrollBatch(SQLModel, table=True):
    """A batch (代发文件) of a township and month, as sent and as the bank answered it."""

    __tablename__ = "payroll_batch"

    month: str = Field(primary_key=True)
    township: str = Field(primary_key=True)
    part: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    batch_key: str = Field(unique=True)
    items: int
    total_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))
    bank_batch_id: str | None = None
    bank_paid_count: int | None = None
    bank_paid_fen: int | None = Field(default=None, sa_column=Column(BigInteger()))
    items_paid_count: int | None = None
    items_paid_fen: int | None = Field(default=None, sa_column=Column(BigInteger()))
    reconciled_at: datetime | None = Field(default=None, sa_column=_utc())


# ---- corrections (容错纠错), dishonesty (失信), 低保 standards ------------------------------------


class BenefitRecovery(SQLModel, table=True):
    """An amount a correction found overpaid (追回), to be recovered by people outside the
    system; its outcome recorded once."""

    __tablename__ = "benefit_recovery"

    id: int | None = Field(default=None, primary_key=True)
    recipient_no: str = Field(index=True)
    reference: str
    """The correction that found it (``correction-<n>``)."""
    months: str
    """The months overpaid, ``YYYY-MM`` separated by commas."""
    amount_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))
    recorded_at: datetime = Field(sa_column=_utc(nullable=False))
    recorded_by: str
    outcome: str | None = None
    """recovered | waived | written_off (None: not yet known)."""
    outcome_note: str = ""
    outcome_at: datetime | None = Field(default=None, sa_column=_utc())
    outcome_by: str | None = None

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_fen).scaleb(-2)


class DishonestyFinding(SQLModel, table=True):
    """A finding that a household obtained aid dishonestly (失信), with its reasons."""

    __tablename__ = "dishonesty_finding"

    id: int | None = Field(default=None, primary_key=True)
    recipient_no: str = Field(index=True)
    source: str
    """review | emergency_follow_up | correction."""
    reasons: str
    effective_month: str | None = None
    """From when its benefit ended (None: it had ended already)."""
    found_at: datetime = Field(sa_column=_utc(nullable=False))
    found_by: str


class DishonestyMember(SQLModel, table=True):
    """A member of a household found dishonest: the ID number's keyed hash under each key of
    the ring (``store.hashed_ids``), never the number."""

    __tablename__ = "dishonesty_member"

    finding_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    id_number_hash: str = Field(primary_key=True, index=True)
    key_id: str


class DibaoStandardChange(SQLModel, table=True):
    """A new monthly 低保 standard per person from a month; the register follows it."""

    __tablename__ = "dibao_standard_change"

    from_month: str = Field(primary_key=True)
    urban: Decimal = Field(sa_column=Column(Money(), nullable=False))
    rural: Decimal = Field(sa_column=Column(Money(), nullable=False))
    reasons: str
    recorded_at: datetime = Field(sa_column=_utc(nullable=False))
    recorded_by: str
    completed_at: datetime | None = Field(default=None, sa_column=_utc())
    households: int | None = None
    """How many households hold the new amount, once the register is done."""


class ReviewRecord(SQLModel, table=True):
    """A review of a recipient household (``domain.reviews``), one row rewritten at each step
    (newest ``version`` wins); its trail in ``audit_entry`` under its number."""

    __tablename__ = "benefit_review"

    review_no: str = Field(primary_key=True)
    recipient_no: str = Field(index=True)
    assistance_type: str = Field(index=True)
    township: str = Field(index=True)
    village: str = Field(index=True)
    kind: str
    stage: str = Field(index=True)
    opened_at: datetime = Field(sa_column=_utc(nullable=False))
    decision_due: date = Field(index=True)
    decided_at: datetime | None = Field(default=None, sa_column=_utc())
    outcome: str | None = None
    overdue: bool = False
    version: int = 0
    view: str = "{}"
    """The whole ``ReviewView`` as JSON."""
    start: str = ""
    """Sealed: what it opened with (``ReviewStart``: the members' numbers), to start its
    workflow again if the start is lost."""


class ReferralRecord(SQLModel, table=True):
    """A referral from another department (部门转介, ``domain.referrals``): routed to the family's
    township; its trail in ``audit_entry`` under its number. The family's ID and phone numbers
    are kept masked here and in full only sealed (``family``)."""

    __tablename__ = "referral"

    referral_no: str = Field(primary_key=True)
    department: str = Field(index=True)
    situation: str = Field(index=True)
    township: str = Field(index=True)
    village: str = Field(index=True)
    family_name: str
    id_number: str
    """Masked: region code and last four."""
    phone: str
    """Masked."""
    family: str
    """Sealed JSON: the family's name, ID number and phone, bound to the referral's number."""
    note: str = ""
    status: str = Field(index=True)
    received_at: datetime = Field(sa_column=_utc(nullable=False))
    received_by: str
    verify_by: date = Field(index=True)
    overdue: bool = False
    outcome: str | None = None
    reasons: str = ""
    referred_to: str | None = None
    linked_case: str | None = None
    linked_recipient: str | None = None
    linked_referral: str | None = Field(default=None, index=True)
    case_no: str | None = None
    """The application or emergency that named it (outcome ``application_opened``)."""
    acted_at: datetime | None = Field(default=None, sa_column=_utc())
    acted_by: str | None = None


class ReferralClaim(SQLModel, table=True):
    """A person in an open referral, by their ID number's keyed hash (``store.hashed_ids``):
    a second referral of them links to it. Removed once it has its outcome."""

    __tablename__ = "referral_claim"

    id_number_hash: str = Field(primary_key=True)
    key_id: str
    referral_no: str = Field(index=True)


class ReferralCounter(SQLModel, table=True):
    __tablename__ = "referral_counter"

    year: int = Field(primary_key=True)
    last: int = 0


class SweepRow(SQLModel, table=True):
    """A township's sweep of its villages (摸底排查, ``domain.sweeps``): the villages covered
    and the referrals (``found_in_sweep``) its families became. No personal data here: the
    families are in their referrals, sealed."""

    __tablename__ = "sweep"

    id: int | None = Field(default=None, primary_key=True)
    township: str = Field(index=True)
    swept_on: date = Field(index=True)
    villages: str
    """The villages covered, comma-separated codes."""
    families: int = 0
    referrals: str = ""
    """The referral numbers its families became, comma-separated."""
    note: str = ""
    recorded_at: datetime = Field(sa_column=_utc(nullable=False))
    recorded_by: str


class WatchEntry(SQLModel, table=True):
    """A household on the watch list (低保边缘、动态监测, ``domain.watch``) until ``watch_until``,
    with its next check-up. The person's ID and phone numbers are masked here and in full
    only sealed (``person``); its keyed hash finds the household again."""

    __tablename__ = "watch_entry"

    id: int | None = Field(default=None, primary_key=True)
    reason: str = Field(index=True)
    source: str
    """What put it there: a case, a recipient household or an emergency's number."""
    township: str = Field(index=True)
    village: str = Field(index=True)
    name: str
    id_number: str
    """Masked."""
    phone: str
    """Masked."""
    person: str
    """Sealed JSON: name, ID number and phone, bound to ``watch-<id>``'s source."""
    id_number_hash: str = Field(index=True)
    key_id: str
    income_per_person: Decimal | None = Field(default=None, sa_column=Column(Money()))
    status: str = Field(index=True)
    since: date
    watch_until: date = Field(index=True)
    check_up_due: date = Field(index=True)
    last_check_up: date | None = None
    last_outcome: str | None = None
    last_note: str = ""
    case_no: str | None = None
    """The application opened from a check-up."""
    added_at: datetime = Field(sa_column=_utc(nullable=False))
    added_by: str
