"""Request and response bodies. Field names are the API's contract; money is a decimal string.

Every request body is bounded: strings and lists have a maximum length, unknown fields are
refused (422 naming them) and text must be real text, not blank.
"""

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
)

from api.published import published
from api.spreadsheet import FORMULA_STARTS, starts_like_formula
from domain.calendar import local_date
from domain.cases import (
    Actor,
    AssistanceType,
    BankAccount,
    CareInstitution,
    CaseView,
    Channel,
    DecisionRecord,
)
from domain.emergency import Cause, EmergencyView
from domain.identity import normalize_id_number, normalize_phone
from domain.intake import ApplicationIntake, EmergencyIntake
from domain.privacy import for_role
from domain.recipients import RecipientView
from domain.referrals import Department, Situation
from domain.reviews import ReviewView
from store.pages import Paged

T = TypeVar("T")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(value: str) -> str:
    """Trimmed, and text every part of the system can keep: a lone surrogate ("\\ud800") can
    be neither stored nor sent, and PostgreSQL refuses a NUL character."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a character that is not text (a lone surrogate)") from None
    if _CONTROL.search(value):
        raise ValueError("contains a control character; only text, tabs and line breaks")
    return value.strip()


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


def Bounded(max_length: int, *, required: bool = True):
    """A string of at most ``max_length`` characters, trimmed; blank only if not ``required``."""
    checks = [AfterValidator(_text), *([AfterValidator(_not_blank)] if required else [])]
    return Annotated[str, Field(max_length=max_length), *checks]


Name = Bounded(50)
Relation = Bounded(20)
Label = Bounded(100)
"""Who raised an objection, a document's name."""
Text = Bounded(2000)
"""Reasons, findings, grounds: a few paragraphs."""
Note = Bounded(2000, required=False)


def _no_formula(name: str) -> str:
    """A township's or village's name is written in the reports' CSV: it may not start as a
    formula a spreadsheet would run (``api.spreadsheet``)."""
    if starts_like_formula(name):
        raise ValueError(
            f"must not start with {', '.join(FORMULA_STARTS)}: a spreadsheet would run it as a "
            "formula"
        )
    return name


PlaceName = Annotated[Name, AfterValidator(_no_formula)]
"""Trimmed first: a leading tab or line break is gone before the check."""


def _id_number(raw: str) -> str:
    return normalize_id_number(raw, today=local_date(datetime.now(UTC)))


IdNumber = Annotated[str, Field(max_length=40), AfterValidator(_id_number)]
Phone = Annotated[str, Field(max_length=40), AfterValidator(normalize_phone)]


def _fen(value: Decimal) -> Decimal:
    """To the fen, written out: ``2e3`` is ¥2000.00 in every answer, record and SMS."""
    return value.quantize(Decimal("0.01"))


Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2), AfterValidator(_fen)]

ReferralNo = Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,40}$")]

MAX_HOUSEHOLD = 30
"""Members besides the applicant: more than any real household (户)."""


class Body(BaseModel):
    """A request body: unknown fields are refused, so a misspelt field is never ignored."""

    model_config = ConfigDict(extra="forbid")


class BankAccountIn(Body):
    """社会化发放: the family's bank account (the 惠民惠农 one-card account)."""

    bank: Bounded(50)
    account_no: Annotated[str, Field(pattern=r"^\d{8,30}$", description="digits only")]
    holder: Name


class ApplicantIn(Body):
    name: Name
    id_number: IdNumber
    phone: Phone


class HouseholdMemberIn(Body):
    name: Name
    id_number: IdNumber
    relation: Relation
    monthly_income: Money = Decimal(0)


class ConflictOfInterestIn(Body):
    """近亲属备案: the applicant is a close relative of a caseworker or village-committee member."""

    related_person: Name
    position: Literal["caseworker", "village_committee"]
    relation: Relation


def _distinct_people(
    household: list[HouseholdMemberIn], info: ValidationInfo
) -> list[HouseholdMemberIn]:
    applicant = info.data.get("applicant")  # declared before the household, so checked first
    numbers = [m.id_number for m in household] + ([applicant.id_number] if applicant else [])
    if len(set(numbers)) != len(numbers):
        raise ValueError("the same ID number appears twice among the applicant and household")
    return household


Household = Annotated[
    list[HouseholdMemberIn], Field(max_length=MAX_HOUSEHOLD), AfterValidator(_distinct_people)
]


class ApplicationCreate(Body):
    assistance_type: AssistanceType
    township: Annotated[str, Field(pattern=r"^\d{9}$", description="where the applicant lives")]
    village: Annotated[str, Field(pattern=r"^\d{12}$")]
    channel: Channel = Channel.walk_in
    applicant: ApplicantIn
    household: Household = Field(default_factory=list, description="the other members")
    hukou_township: str | None = Field(
        default=None, pattern=r"^\d{9}$", description="户籍 township; default: township"
    )
    resident_since: date | None = Field(default=None, description="needed when hukou is elsewhere")
    reason: Text
    expense: Literal["major_illness", "education", "disaster_transition", "other"] | None = Field(
        default=None,
        description="temporary assistance: the expenditure behind it (disaster_transition: "
        "过渡期生活救助; other: any other 支出型 hardship), each with its band",
    )
    conflict_of_interest: ConflictOfInterestIn | None = None
    bank_account: BankAccountIn | None = Field(
        default=None, description="where an approval is paid; it can also be recorded later"
    )
    referral_no: ReferralNo | None = Field(
        default=None, description="部门转介: the referral this application answers"
    )

    def intake(self) -> ApplicationIntake:
        """The application as the domain takes it in."""
        return _APPLICATION.validate_python(self.model_dump())


class SurveyCreate(Body):
    investigators: Annotated[list[Name], Field(min_length=1, max_length=10)]
    visited_on: date
    findings: Text
    household_monthly_income: Money = Field(
        validation_alias=AliasChoices("household_monthly_income", "assessed_monthly_income"),
        serialization_alias="assessed_monthly_income",
        description="the household's total monthly income (all members, not per person) as "
        "the survey assessed it, in yuan; `assessed_monthly_income` is accepted too",
    )
    # 特困 (domain.tekun): what eligibility looks at; left out, not recorded.
    disability_grade: Annotated[int, Field(ge=1, le=4)] | None = Field(
        default=None, description="特困: 残疾等级 on the disability certificate, 1–4"
    )
    unable_to_work: bool | None = Field(
        default=None, description="特困: assessed as having no capacity to work (无劳动能力)"
    )
    has_income: bool | None = Field(
        default=None, description="特困: the applicant has any source of income"
    )
    supporter_able: bool | None = Field(
        default=None,
        description="特困: someone legally obliged to support the applicant is able to",
    )
    self_care: Literal["full", "partial", "none"] | None = Field(
        default=None, description="特困: 生活自理能力 (partial: 半失能, none: 失能)"
    )


class ReviewCreate(Body):
    recommendation: Literal["approve", "refuse"]
    reasons: Text
    amount: Money | None = Field(
        default=None, description="temporary assistance: the amount proposed"
    )


class ObjectionCreate(Body):
    raised_by: Label
    grounds: Text


class InstitutionIn(Body):
    """集中供养: the care institution (供养服务机构) and its own bank account."""

    name: Name
    bank: Bounded(50)
    account_no: Annotated[str, Field(pattern=r"^\d{8,30}$", description="digits only")]

    def record(self) -> CareInstitution:
        """The institution's account is held in its name (the payment system pays its holder)."""
        account = BankAccount(bank=self.bank, account_no=self.account_no, holder=self.name)
        return CareInstitution(name=self.name, account=account)


class DecisionCreate(Body):
    outcome: Literal["approve", "refuse"]
    reasons: Text
    amount: Money | None = Field(
        default=None,
        description="temporary assistance: the amount, when approving a proposed refusal or "
        "approving another amount than the one publicised (the case goes to public notice first)",
    )
    exception_reason: Text | None = Field(
        default=None,
        description="一事一议: why a temporary-assistance amount above the band",
    )
    review_cadence: Literal["yearly", "half_yearly"] | None = Field(
        default=None,
        description="定期核查 of an approved 低保 or 特困 household (default: the policy's for the "
        "type)",
    )


class ApplicationDecisionCreate(DecisionCreate):
    """审核确认 of an application; a 特困 approval names its care."""

    care_form: Literal["dispersed", "centralised"] | None = Field(
        default=None,
        description="特困 approval: dispersed (分散供养, paid to the person's account) or "
        "centralised (集中供养, paid to the institution's account)",
    )
    self_care: Literal["full", "partial", "none"] | None = Field(
        default=None, description="特困 approval: self-care ability; default: the survey's"
    )
    institution: InstitutionIn | None = Field(
        default=None, description="特困 in centralised care: the care institution"
    )
    mismatch_reason: Text | None = Field(
        default=None,
        description="an approval against the case's verification_findings (the verification "
        "report contradicts the survey): why it is approved all the same; required then",
    )

    def record(self, actor: Actor) -> DecisionRecord:
        """The decision as the rules take it."""
        institution = self.institution.record() if self.institution else None
        fields = self.model_dump(exclude={"institution"})
        return DecisionRecord(actor=actor, **fields, institution=institution)


class DocumentsRequestCreate(Body):
    documents: Annotated[list[Label], Field(min_length=1, max_length=20)]
    note: Note = ""


class DocumentsReceiptCreate(Body):
    note: Note = ""


class WithdrawalCreate(Body):
    reason: Text


ApplicationPublic = published(
    CaseView,
    name="ApplicationPublic",
    doc="An application: its stage, deadlines (Asia/Shanghai dates) and one timestamp per stage "
    "(UTC).",
    withheld={"version", "stage_hours", "assigned_at"},
    properties=["overdue"],
)


class ApplicantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    id_number: str
    phone: str


class MemberPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    relation: str
    id_number: str


class FamilyPublic(BaseModel):
    """The family as your role may see it: ID and phone numbers in full to the roles that work
    the case with the family (村协理员, 镇助理员, 镇分管领导, 区民政局), masked
    (``370305********1234``, ``138****5678``) to everyone else."""

    model_config = ConfigDict(from_attributes=True)

    applicant: ApplicantPublic
    household: list[MemberPublic]


class ApplicationDetail(ApplicationPublic):
    """One application, read on its own: with the family."""

    family: FamilyPublic | None = Field(
        description="null for a case accepted before intakes were kept with the case"
    )


class ApplicationListItem(ApplicationPublic):
    applicant_id_number: str = Field(description="masked: region code and last four")


class Page(BaseModel, Generic[T]):
    """One page of a list, and how many there are in all."""

    items: list[T]
    total: int
    page: int
    page_size: int

    @classmethod
    def of(cls, paged: Paged, item: Callable[[Any], T]) -> "Page[T]":
        """The page the store read, each item as ``item`` publishes it."""
        return cls(
            items=[item(i) for i in paged.items],
            total=paged.total,
            page=paged.page,
            page_size=paged.page_size,
        )


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    user_id: str
    user_name: str
    role: str
    action: str
    from_stage: str | None
    to_stage: str
    note: str
    prev_hash: str = Field(description="the hash of the case's entry before this one")
    hash: str = Field(description="this entry's hash: see GET /audit/verify")


class VillagePublic(Body):
    model_config = ConfigDict(from_attributes=True, extra="forbid")

    code: Annotated[str, Field(pattern=r"^\d{12}$")]
    name: Name
    area: Literal["urban", "rural"] | None = Field(
        default=None,
        description="which 低保 standard its households get; default: rural for a 村, "
        "urban for a 社区",
    )


class TownshipPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    area: Literal["urban", "rural"]
    villages: list[VillagePublic]


class VillageIn(VillagePublic):
    name: PlaceName


class TownshipUpdate(Body):
    name: PlaceName
    area: Literal["urban", "rural"]
    villages: Annotated[list[VillageIn], Field(max_length=200)]


class CalendarYearPut(Body):
    """The State Council's notice for a year: holidays, and weekend days made working days."""

    holidays: Annotated[list[date], Field(max_length=366)]
    workdays: Annotated[list[date], Field(max_length=366)] = Field(default_factory=list)


class CalendarYearPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    year: int
    source: Literal["entered", "package", "unpublished"]
    holidays: list[date]
    workdays: list[date]
    cases_recomputed: int | None = None


class NotificationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_no: str
    kind: str
    message: str
    assignee: str
    township: str
    at: datetime


# ---- emergencies (急难型临时救助) and the township reserve ------------------------------------

Amount = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2), AfterValidator(_fen)]


class EmergencyCreate(Body):
    township: Annotated[str, Field(pattern=r"^\d{9}$")]
    village: Annotated[str, Field(pattern=r"^\d{12}$", description="where the family lives")]
    channel: Channel = Channel.walk_in
    cause: Cause
    applicant: ApplicantIn
    household: Household = Field(default_factory=list, description="the other members")
    bank_account: BankAccountIn
    requested_amount: Amount
    situation: Text
    referral_no: ReferralNo | None = Field(
        default=None, description="部门转介: the referral this request answers"
    )

    def intake(self) -> EmergencyIntake:
        """The request as the domain takes it in."""
        return _EMERGENCY.validate_python(self.model_dump())


_APPLICATION = TypeAdapter(ApplicationIntake)
_EMERGENCY = TypeAdapter(EmergencyIntake)


class ApprovalCreate(Body):
    amount: Amount
    note: Note = ""


class ExceptionApprovalCreate(Body):
    """一事一议: above the band, or a second payment to the family within the window (any cause)."""

    amount: Amount
    reason: Text


class RejectionCreate(Body):
    reasons: Text


EmergencyPublic = published(
    EmergencyView,
    name="EmergencyPublic",
    doc="An emergency case; ``pay_by`` is 24 hours after the request, holidays included.",
    withheld={"payment_attempt", "version", "stage_hours", "assigned_at", "hold_round"},
    properties=["overdue"],
)


class EmergencyDecisionCreate(DecisionCreate):
    """补办: the district confirms an emergency's follow-up, and says what follows (衔接)."""

    next_step: Literal["dibao_application", "tekun_application", "watch_list"] | None = Field(
        default=None,
        description="what follows: a 低保 or 特困 application opened for the family (channel "
        "proactive, naming the emergency), or the family on the watch list; none: nothing",
    )


class EmergencyDecisionPublic(EmergencyPublic):
    """The emergency confirmed, and what its next step opened."""

    next_case_no: str | None = Field(
        default=None,
        description="the application opened for the family, or the household's open one it "
        "was linked to (``next_step_linked``)",
    )
    next_step_linked: bool = False
    watch_entry_id: int | None = Field(
        default=None, description="the family's entry on the watch list (GET /watch-list)"
    )


class EmergencyDetail(EmergencyPublic):
    """One emergency, read on its own: with the family."""

    family: FamilyPublic | None = Field(
        description="null for a case accepted before intakes were kept with the case"
    )


class EmergencyListItem(EmergencyPublic):
    applicant_id_number: str = Field(description="masked: region code and last four")


class ReservePublic(BaseModel):
    """临时救助储备金 of a township: ``available`` is the balance less what is held for
    approved payments under way."""

    model_config = ConfigDict(from_attributes=True)

    township: str
    balance: Decimal
    held: Decimal
    available: Decimal
    minimum: Decimal
    below_minimum: bool


class ReserveEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: Literal["top_up", "hold", "settle", "release"]
    amount: Decimal
    case_no: str | None
    note: str
    by_user: str
    at: datetime
    balance_after: Decimal
    held_after: Decimal


class TopUpCreate(Body):
    amount: Amount
    note: Text


# ---- the register of recipient households and the monthly payroll ---------------------------

RecipientPublic = published(
    RecipientView,
    name="RecipientPublic",
    doc="A recipient household (建档立卡): its amount, status, and the course of decisions on "
    "its benefit, each from a month on; the bank account masked.",
    withheld={"version"},
)


class MonthPaymentPublic(BaseModel):
    """A month's payment of the household: paid (its transfer), refused by the bank (its
    reason), or not yet answered."""

    model_config = ConfigDict(from_attributes=True)

    month: str
    amount: Decimal
    status: Literal["pending", "paid", "refused", "reissuing"]
    account: str = Field(description="the account it was sent to, masked")
    transfer_id: str | None
    reason: str
    decided_at: datetime | None


class RecipientDetail(RecipientPublic):
    """One household, read on its own: its members as its role may see them, its payments."""

    family: FamilyPublic | None = Field(
        description="the household as the approving case accepted it"
    )
    payments: list[MonthPaymentPublic] = Field(description="by month, the newest first")
    recoveries: list["RecoveryPublic"] = Field(
        default_factory=list, description="amounts corrections found overpaid (追回)"
    )
    dishonesty: list["DishonestyPublic"] = Field(
        default_factory=list, description="findings of aid obtained dishonestly (失信)"
    )
    review: "ReviewPublic | None" = Field(
        default=None, description="the review under way: its stage and due dates"
    )


class PayrollCreate(Body):
    month: Annotated[str, Field(max_length=20, description="YYYY-MM: this month, or the next")]


class PayrollPublic(BaseModel):
    """A month's payroll of the district."""

    model_config = ConfigDict(from_attributes=True)

    month: str
    status: Literal["running", "completed"]
    started_at: datetime
    started_by: str = Field(description="the district officer, or 'schedule'")
    completed_at: datetime | None = None


class Payrolls(BaseModel):
    items: list[PayrollPublic]
    next_run: datetime | None = Field(description="when the Schedule runs the next payroll")


class CountAndAmount(BaseModel):
    count: int
    amount: Decimal


class TownshipPayrollPublic(BaseModel):
    """A township's share of the month: its households' items by status; ``difference`` is the
    bank's batch totals less what the register recorded paid (0.00: reconciled to the fen)."""

    township: str
    households: int
    total: Decimal
    paid: CountAndAmount
    refused: CountAndAmount
    pending: CountAndAmount
    difference: Decimal
    unreconciled_batches: list[str]


class PayrollDetail(PayrollPublic):
    reconciled: bool = Field(description="every batch's totals agree with the register's")
    townships: list[TownshipPayrollPublic]


class PayrollItemPublic(BaseModel):
    recipient_no: str
    township: str
    village: str
    applicant_name: str
    month: str
    amount: Decimal
    status: Literal["pending", "paid", "refused", "reissuing"]
    account: str = Field(description="masked")
    transfer_id: str | None
    reason: str


# ---- reviews of recipient households (定期核查, 家庭状况变化) --------------------------------

MonthText = Annotated[str, Field(max_length=7, description="YYYY-MM")]
BenefitOutcome = Literal["continue", "adjust", "suspend", "resume", "phase_out", "terminate"]


class ReviewOpen(Body):
    reason: Text


class ChangeCreate(Body):
    kind: Literal[
        "income_changed", "member_joined", "member_left", "member_died", "moved_away", "other"
    ]
    happened_on: date
    household_income: Money | None = Field(
        default=None, description="income_changed: the household's new monthly total, in yuan"
    )
    note: Note = ""


class ProposalCreate(Body):
    """The township's proposal: what it recommends the district decide."""

    recommendation: BenefitOutcome
    reasons: Text
    amount: Money | None = Field(default=None, description="adjust (or resume): the new amount")
    effective_month: MonthText | None = Field(default=None, description="default: next month")
    exception_reason: Text | None = Field(
        default=None, description="一事一议: why an amount above what the standard gives"
    )


class BenefitDecisionCreate(Body):
    """The district's decision on the benefit."""

    outcome: BenefitOutcome
    reasons: Text
    amount: Money | None = Field(default=None, description="adjust (or resume): the new amount")
    effective_month: MonthText | None = Field(default=None, description="default: next month")
    exception_reason: Text | None = Field(
        default=None, description="一事一议: why an amount above what the standard gives"
    )


ReviewPublic = published(
    ReviewView,
    name="ReviewPublic",
    doc="A review of a recipient household: its stage, deadlines (Asia/Shanghai dates), the "
    "changes reported, the proposal and the decision.",
    withheld={"version", "stage_hours", "halted_from", "reconciled_at"},
)


class ReviewOpened(BaseModel):
    review_no: str
    joined: bool = Field(description="true: the household's review under way took the change")


# ---- corrections (容错纠错), dishonesty (失信) and 低保 standards --------------------------------


class CorrectionCreate(Body):
    """容错纠错 by the district: ``revoke`` ends the benefit from ``effective_month`` (an approval
    made in error); ``amount`` sets the monthly amount from it. Either may reach back into months
    the payroll paid: what they paid above the corrected amount is recorded to recover."""

    kind: Literal["revoke", "amount"]
    amount: Amount | None = Field(default=None, description="the corrected monthly amount")
    effective_month: MonthText
    reasons: Text
    exception_reason: Text | None = Field(
        default=None, description="一事一议: why an amount above what the standard pays"
    )


class RecoveryOutcomeCreate(Body):
    outcome: Literal["recovered", "waived", "written_off"]
    note: Note = ""


class DishonestyCreate(Body):
    """失信: aid obtained dishonestly. Ends the benefit (from ``effective_month``, default the
    next month) and flags any later application or emergency request of a member."""

    reasons: Text
    source: Literal["review", "emergency_follow_up", "correction"]
    effective_month: MonthText | None = None


class StandardChangeCreate(Body):
    """A new monthly 低保 standard per person from a month: every 低保 and 特困 household paid
    in that month gets its amount under it, and is texted it."""

    from_month: MonthText
    urban: Amount
    rural: Amount
    reasons: Text


class RecoveryPublic(BaseModel):
    """An amount a correction found overpaid, to be recovered outside the system."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str = Field(description="the correction that found it")
    months: str = Field(description="the months overpaid, comma-separated")
    amount: Decimal
    recorded_at: datetime
    recorded_by: str
    outcome: Literal["recovered", "waived", "written_off"] | None
    outcome_note: str
    outcome_at: datetime | None
    outcome_by: str | None


class DishonestyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    reasons: str
    effective_month: str | None = Field(description="from when its benefit ended")
    found_at: datetime
    found_by: str


class CorrectionPublic(BaseModel):
    reference: str = Field(description="the correction's, on the course (its letter's too)")
    recipient: RecipientPublic
    recovery: RecoveryPublic | None = Field(description="what the correction found overpaid")


class StandardChangePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_month: str
    urban: Decimal
    rural: Decimal
    reasons: str
    recorded_at: datetime
    recorded_by: str
    completed_at: datetime | None = Field(description="when every household held it")
    households: int | None = Field(description="how many households hold it")


RecipientDetail.model_rebuild()


# ---- referrals from other departments (部门转介) ------------------------------------------


class ReferralFamilyIn(Body):
    name: Name
    id_number: IdNumber
    phone: Phone


class ReferralCreate(Body):
    family: ReferralFamilyIn
    village: Annotated[str, Field(pattern=r"^\d{12}$", description="where the family lives")]
    situation: Situation
    note: Note = ""
    department: Department | None = Field(
        default=None,
        description="a district officer recording a department's referral names it; a "
        "liaison's is its token's",
    )


class ReferralOutcomeCreate(Body):
    outcome: Annotated[
        str,
        Field(
            max_length=40,
            description="not_eligible, already_assisted or referred_elsewhere "
            "(application_opened is set by itself when an intake names the referral)",
        ),
    ]
    reasons: Text
    referred_to: Department | None = Field(
        default=None, description="referred_elsewhere: the department it goes to"
    )
    case_no: ReferralNo | None = Field(
        default=None, description="already_assisted: the case that assists the family"
    )
    recipient_no: ReferralNo | None = Field(
        default=None, description="already_assisted: the recipient household it belongs to"
    )


class ReferralPublic(BaseModel):
    """A referral: where it was routed, its deadline and outcome. The family's ID and phone
    numbers in full only to the township's and district's caseworkers reading the referral
    itself; masked in lists and to the department."""

    referral_no: str
    department: str
    situation: str
    township: str
    village: str
    family_name: str
    id_number: str
    phone: str
    note: str
    status: str
    received_at: datetime
    verify_by: date
    overdue: bool
    outcome: str | None
    reasons: str
    referred_to: str | None
    linked_case: str | None
    """The family's open case it was linked to (or the case it names as assisting it)."""
    linked_recipient: str | None
    linked_referral: str | None
    """The family's referral already open, whose outcome this one takes."""
    case_no: str | None
    """The application or emergency opened from it."""
    acted_at: datetime | None

    @classmethod
    def of(cls, shown: Any, role: str) -> "ReferralPublic":
        row = shown.row
        return cls(
            referral_no=row.referral_no, department=row.department, situation=row.situation,
            township=row.township, village=row.village, family_name=row.family_name,
            id_number=shown.id_number, phone=shown.phone, note=for_role(role, row.note),
            status=row.status, received_at=row.received_at, verify_by=row.verify_by,
            overdue=row.overdue, outcome=row.outcome, reasons=for_role(role, row.reasons),
            referred_to=row.referred_to, linked_case=row.linked_case,
            linked_recipient=row.linked_recipient, linked_referral=row.linked_referral,
            case_no=row.case_no, acted_at=row.acted_at,
        )  # fmt: skip


# ---- sweeps of a township's villages (摸底排查) ----------------------------------------------

VillageCode = Annotated[str, Field(pattern=r"^\d{12}$")]


class SweepFamilyIn(Body):
    name: Name
    id_number: IdNumber
    phone: Phone
    village: VillageCode = Field(description="one of the villages the sweep covered")
    situation: Annotated[
        str,
        Field(
            max_length=40,
            description="the hardship seen, as a referral's: major_illness, schooling_costs, "
            "severe_disability, disaster, zero_employment, other",
        ),
    ]
    note: Note = ""


class SweepCreate(Body):
    swept_on: date | None = Field(default=None, description="the day it was done (today if none)")
    villages: Annotated[list[VillageCode], Field(min_length=1, max_length=100)]
    families: Annotated[list[SweepFamilyIn], Field(max_length=200)] = []
    note: Note = ""


class SweepPublic(BaseModel):
    """A sweep: the villages covered and the referrals (``found_in_sweep``) its families became,
    each in the township's inbox; numbers masked."""

    id: int
    township: str
    swept_on: date
    villages: list[str]
    families: int
    referral_nos: list[str]
    note: str
    recorded_at: datetime
    recorded_by: str
    referrals: list[ReferralPublic] = []
    """On the answer to its recording only."""

    @classmethod
    def of(cls, row: Any, referrals: list[ReferralPublic] | None = None) -> "SweepPublic":
        return cls(
            id=row.id, township=row.township, swept_on=row.swept_on,
            villages=row.villages.split(","), families=row.families,
            referral_nos=[n for n in row.referrals.split(",") if n], note=row.note,
            recorded_at=row.recorded_at, recorded_by=row.recorded_by, referrals=referrals or [],
        )  # fmt: skip


# ---- the watch list (低保边缘、动态监测) --------------------------------------------------------


class CheckUpCreate(Body):
    outcome: Annotated[
        str, Field(max_length=40, description="unchanged, improved (off the list) or worsened")
    ]
    note: Text
    open_application: bool = Field(
        default=False,
        description="worsened only: open the household's application now (channel proactive); "
        "the answer's case_no names it",
    )
    assistance_type: Literal["dibao", "tekun"] = Field(
        default="dibao", description="the application opened (with open_application)"
    )


class WatchEntryPublic(BaseModel):
    """A watched household: why, since when, until when, its next check-up; the ID number
    masked (in full only in its source's sealed records)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    reason: str
    source: str
    """The case, recipient household or emergency that put it on the list."""
    township: str
    village: str
    name: str
    id_number: str
    income_per_person: Decimal | None
    status: str
    since: date
    watch_until: date
    check_up_due: date
    last_check_up: date | None
    last_outcome: str | None
    last_note: str
    case_no: str | None
    linked: bool = False
    """The application the check-up opened was the household's open one (not doubled)."""
    intake: dict[str, str] | None = None
    """After a check-up that found things worse: what ``POST /applications`` needs to open the
    household's application (channel ``proactive``, the village, the source whose sealed
    records hold the family's numbers)."""

    @classmethod
    def of(cls, row: Any) -> "WatchEntryPublic":
        shown = cls.model_validate(row)
        if row.status == "watched" and row.last_outcome == "worsened":
            shown.intake = {
                "route": "POST /applications", "channel": "proactive", "village": row.village,
                "applicant": row.name, "source": row.source,
            }  # fmt: skip
        return shown
