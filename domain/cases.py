"""A case (救助案件): its stages, the people in it, and every message a workflow takes or returns.

Each Temporal message is one dataclass, so fields can be added without breaking callers.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from domain.deadlines import Deadlines
from domain.errors import InvalidData
from domain.policy import Policy


class AssistanceType(StrEnum):
    dibao = "dibao"  # 最低生活保障
    tekun = "tekun"  # 特困人员救助供养
    temporary = "temporary"  # 支出型临时救助


class Channel(StrEnum):
    walk_in = "walk_in"  # 一门受理 window
    referral = "referral"  # 部门转介
    proactive = "proactive"  # 主动发现


class Stage(StrEnum):
    survey = "survey"  # 入户调查 and 家庭经济状况核对
    review = "review"  # 镇(街道)初审
    notice = "notice"  # 公示
    decision = "decision"  # 区民政局审核确认
    awaiting_documents = "awaiting_documents"  # 补正: the deadline clock pauses
    approved = "approved"
    refused = "refused"
    withdrawn = "withdrawn"
    cancelled = "cancelled"  # opened in error, cancelled by a supervisor
    halted = "halted"
    """Not a step of the procedure: the case engine stopped the case's workflow (terminated or
    failed). Only the records say so; once its money is reconciled with the bank, a supervisor
    restarts or closes the case."""
    closed_by_supervisor = "closed_by_supervisor"
    """A halted case closed by a supervisor, with reasons (its steps so far stay on the record)."""


PROCEDURE = (Stage.survey, Stage.review, Stage.notice, Stage.decision)
"""The stages of the procedure, in the order an application goes through them."""
OPEN_STAGES = (*PROCEDURE, Stage.awaiting_documents)
"""Where an application waits for someone: the procedure, or the applicant's documents."""
CLOSED_STAGES = frozenset(Stage).difference(OPEN_STAGES)
"""Where no one acts on the application any more (its first payment or its written refusal
may still be under way)."""
DECIDED_STAGES = (Stage.approved, Stage.refused)
"""The district decided (审核确认)."""


class Role(StrEnum):
    village_coordinator = "village_coordinator"  # 村(社区)协理员
    township_assistant = "township_assistant"  # 镇(街道)助理员
    township_approver = "township_approver"  # 镇(街道)分管领导
    district_officer = "district_officer"  # 区民政局
    supervisor = "supervisor"  # 工作专班
    auditor = "auditor"
    admin = "admin"
    department_liaison = "department_liaison"  # 部门联络员: another department refers families


LEVEL_OF_ROLE: dict[Role, str] = {
    Role.village_coordinator: "village",
    Role.township_assistant: "township",
    Role.township_approver: "township",
    Role.district_officer: "district",
    Role.supervisor: "district",
    Role.auditor: "district",
    Role.admin: "district",
    Role.department_liaison: "district",
}
"""The level each role works at: its user's jurisdiction is the code of that level
(``domain.townships.jurisdiction_level``). A role's powers are its level's: a district
officer's role on a village's account would approve 一事一议 payments there, a township
assistant's on the district's would take intakes in every township."""


@dataclass(frozen=True)
class Actor:
    """Who did it: every action on the record names its user and role."""

    user_id: str
    name: str
    role: Role
    jurisdiction: str
    department: str | None = None
    """A department liaison's department (``domain.referrals.Department``); None for 民政 staff."""


SYSTEM = Actor(user_id="system", name="jiuzhu", role=Role.admin, jurisdiction="370305")


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str


@dataclass(frozen=True)
class Applicant(Person):
    phone: str


@dataclass(frozen=True)
class HouseholdMember(Person):
    relation: str
    monthly_income: Decimal = Decimal(0)


@dataclass(frozen=True)
class BankAccount:
    """Where the money goes (社会化发放): the family's account, the 惠民惠农 one-card account."""

    bank: str
    account_no: str
    holder: str

    @property
    def masked(self) -> str:
        """For every answer and log: the last four digits only."""
        return f"****{self.account_no[-4:]}"


PaymentStatus = Literal["settled", "refused"]


@dataclass(frozen=True)
class PaymentAttempt:
    """One transfer to the family, as the case shows it (the account masked)."""

    attempt: int
    amount: Decimal
    account: str
    status: PaymentStatus
    at: datetime
    transfer_id: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class BankAccountRecord:
    """A bank account recorded or corrected by a caseworker (after a refused payment, say)."""

    actor: Actor
    account: BankAccount


@dataclass(frozen=True)
class ConflictOfInterest:
    """申请人与经办人员或村(居)委会成员有近亲属关系: recorded apart, surveyed by the district."""

    related_person: str
    position: str
    relation: str


@dataclass(frozen=True)
class CaseStart:
    """What the 一门受理 window accepted; the input of ``ApplicationWorkflow``."""

    case_no: str
    assistance_type: AssistanceType
    township: str
    village: str
    area: str  # urban | rural: which 低保 standard applies
    channel: Channel
    applicant: Applicant
    household: list[HouseholdMember]
    reason: str
    accepted_at: datetime
    accepted_by: Actor
    policy: Policy
    deadlines: Deadlines
    """Computed at acceptance; the workflow recomputes them when pauses end or calendars change."""
    hukou_township: str | None = None
    resident_since: date | None = None
    expense: str | None = None  # temporary only: ``domain.amounts.Expense``
    conflict_of_interest: ConflictOfInterest | None = None
    bank_account: BankAccount | None = None
    """Where the approved amount is paid; a case approved without one waits for it."""
    recipient_no: str | None = None
    """临时救助 for a recipient household: the family's register number (建档号)."""
    dishonesty_flag: str | None = None
    """失信: a member belongs to a household found to have obtained aid dishonestly — which, and
    when (set at intake; not a refusal)."""
    referral_no: str | None = None
    """部门转介: the referral the application came from."""
    emergency_no: str | None = None
    """衔接: the emergency whose confirmed follow-up opened the application."""


@dataclass(frozen=True)
class SurveyRecord:
    """入户调查 record: at least two named investigators."""

    actor: Actor
    investigators: list[str]
    visited_on: date
    findings: str
    assessed_monthly_income: Decimal
    # 特困 (``domain.tekun``): what the survey found of the applicant; None where it did not
    # record it (every survey before these were asked).
    disability_grade: int | None = None
    """残疾等级 on the disability certificate, 1 (most severe) to 4; None: none recorded."""
    unable_to_work: bool | None = None
    """Assessed as having no capacity to work (无劳动能力)."""
    has_income: bool | None = None
    """Any source of income (收入来源) at all."""
    supporter_able: bool | None = None
    """Someone legally obliged to support them (法定赡养、抚养、扶养义务人) is able to."""
    self_care: str | None = None
    """生活自理能力: full | partial (半失能) | none (失能)."""


@dataclass(frozen=True)
class ReviewRecord:
    """镇(街道)初审 opinion; for temporary assistance the proposed amount."""

    actor: Actor
    recommendation: str  # approve | refuse
    reasons: str
    amount: Decimal | None = None
    exception_reason: str | None = None
    """一事一议: why a 临时救助 amount above the band (a district officer's proposal only)."""


@dataclass(frozen=True)
class ObjectionRecord:
    """An objection (异议) received during public notice."""

    actor: Actor
    raised_by: str
    grounds: str


@dataclass(frozen=True)
class CareInstitution:
    """集中供养: the care institution (供养服务机构) a 特困 person lives in, paid for their care
    into its own account (its holder is the institution)."""

    name: str
    account: BankAccount


@dataclass(frozen=True)
class DecisionRecord:
    """审核确认 by the district. Approving a proposed refusal sends the case to public notice
    first; for 临时救助 the district then names the amount. A 特困 approval names the care
    form and the person's self-care ability (``domain.tekun``)."""

    actor: Actor
    outcome: str  # approve | refuse
    reasons: str
    amount: Decimal | None = None
    exception_reason: str | None = None
    """一事一议: the district approves a 临时救助 amount above the band, with this reason."""
    care_form: str | None = None
    """特困: dispersed (分散供养, paid to the person) | centralised (集中供养, to the institution)."""
    self_care: str | None = None
    """特困: full | partial | none; None: as the survey recorded it."""
    institution: CareInstitution | None = None
    """特困 in centralised care: the institution, and the account it is paid into."""
    review_cadence: str | None = None
    """定期核查 of an approved 低保 or 特困 household: ``yearly`` or ``half_yearly`` (None: the
    policy's for the type)."""
    mismatch_reason: str | None = None
    """An approval against the verification findings (``CaseView.verification_findings``):
    why the district approves all the same."""
    next_step: str | None = None
    """An emergency's follow-up (衔接): ``dibao_application``, ``tekun_application``,
    ``watch_list`` or None (``domain.emergency.NextStep``)."""


@dataclass(frozen=True)
class DocumentsRequest:
    actor: Actor
    documents: list[str]
    note: str = ""


@dataclass(frozen=True)
class DocumentsReceipt:
    actor: Actor
    note: str = ""


@dataclass(frozen=True)
class WithdrawalRecord:
    actor: Actor
    reason: str


class Intervention(StrEnum):
    """What a supervisor (督办) may do to a case that is not moving."""

    reassign = "reassign"  # to another caseworker of the township
    escalate = "escalate"  # put before the district
    retry_now = "retry_now"  # the external call waiting for its next attempt runs now
    reverify = "reverify"  # ask the verification platform again after a refusal
    reopen = "reopen"  # 容错纠错: back to an earlier open stage; the earlier step stays
    extend_deadline = "extend_deadline"  # never hidden: the audit counts it as extended
    cancel = "cancel"  # a case opened in error
    restart_orphan = "restart_orphan"  # start the workflow of a record that has none
    restart = "restart"  # a halted case: a new run from its last state, once reconciled
    close = "close"  # a halted case: closed with reasons, once reconciled


@dataclass(frozen=True)
class InterventionRecord:
    """A supervisor's action on a case, with its reason on the record."""

    actor: Actor
    action: Intervention
    reason: str
    assignee: str | None = None  # reassign
    to_stage: str | None = None  # reopen
    working_days: int | None = None  # extend_deadline


@dataclass(frozen=True)
class CalendarPublished:
    """Signal: the holiday calendar of these years was published or corrected."""

    years: list[int]


@dataclass(frozen=True)
class WatchPlan:
    """动态监测: the watch-list entry a decided case puts its household on (``domain.watch``),
    written with the case's record."""

    reason: str
    since: date
    watch_until: date
    check_up_due: date
    income_per_person: Decimal | None = None


@dataclass(frozen=True)
class VerificationReport:
    """家庭经济状况核对报告 from the verification platform."""

    report_id: str
    household_monthly_income: Decimal
    savings: Decimal
    vehicles: int
    properties: int
    flags: list[str] = field(default_factory=list)


@dataclass
class CaseView:
    """The case as a caseworker sees it: stage, deadlines, one timestamp per stage."""

    case_no: str
    assistance_type: AssistanceType
    stage: Stage
    township: str
    village: str
    channel: Channel
    applicant_name: str
    household_size: int
    accepted_at: datetime
    survey_due: date
    decision_due: date
    provisional: bool
    """A deadline falls in a year whose holidays are not yet published."""
    assignee: str
    """The caseworker responsible: who accepted the case, or who last acted on it."""
    conflict_of_interest: bool = False
    paused_from: Stage | None = None
    pending_documents: list[str] = field(default_factory=list)
    verification: VerificationReport | None = None
    surveyed_at: datetime | None = None
    reviewed_at: datetime | None = None
    notice_started_at: datetime | None = None
    notice_ends_at: datetime | None = None
    decided_at: datetime | None = None
    closed_at: datetime | None = None
    refusal_notice_due: date | None = None
    refusal_notified_at: datetime | None = None
    first_payment_at: datetime | None = None
    monthly_amount: Decimal | None = None
    objections: int = 0
    survey_overdue: bool = False
    decision_overdue: bool = False
    refusal_notice_overdue: bool = False
    version: int = 0
    """Bumped at every recorded change; the projection keeps only the newest."""
    bank_account: str | None = None
    """The family's account, masked: the last four digits."""
    payment_attempt: int = 1
    """A new attempt after a refused transfer and a corrected account (its key says which)."""
    awaiting_bank_account: bool = False
    """Approved, and waiting for a bank account (none recorded, or the last one refused)."""
    stage_since: datetime | None = None
    """When the case entered its present stage (None: since acceptance, for a case accepted
    before migration 0005_supervision, which added it)."""
    stage_hours: dict[str, float] = field(default_factory=dict)
    """Hours each stage has held the case so far (the present one not yet counted)."""
    visited_on: date | None = None
    """The household survey's visit (the present round's)."""
    paused_working_days: int = 0
    """补正: working days the decision clock stood still."""
    original_decision_due: date | None = None
    """The decision due date at acceptance, kept beside any later one."""
    extended_working_days: int = 0
    """Added by a supervisor or a district officer (extend-deadline): never counted as on time."""
    verification_refused: bool = False
    notice_refused: bool = False
    """An SMS to the applicant was refused by the SMS system."""
    assigned_at: datetime | None = None
    """When a supervisor last gave the case to its assignee."""
    payments: list[PaymentAttempt] = field(default_factory=list)
    """Every transfer of the first payment: settled, or refused by the payment system."""
    halted_from: str | None = None
    """The stage the case was at when the case engine halted its workflow."""
    reconciled_at: datetime | None = None
    """When a halted case's payments were reconciled with the bank."""
    recipient_no: str | None = None
    """The household's number in the register of recipients (建档号): the one its approval made
    (低保, 特困), or the family's (临时救助 for a recipient household)."""
    care_form: str | None = None
    """特困, once approved: dispersed (分散供养) or centralised (集中供养)."""
    self_care: str | None = None
    """特困, once approved: full | partial | none (生活自理能力)."""
    institution: str | None = None
    """特困 in centralised care: the care institution's name (paid into its account)."""
    dishonesty_flag: str | None = None
    """失信: a member belongs to a household found to have obtained aid dishonestly — which, and
    when (set at intake; not a refusal)."""
    referral_no: str | None = None
    """部门转介: the referral the application came from."""
    strict_decision_due: date | None = None
    """审批期限应严格控制在20个工作日以内: the decision's date counted from acceptance, never moved
    by 补正 pauses or extensions (None: a case accepted before it was kept)."""
    strict_decision_overdue: bool = False
    """Open past the strict date: a breach on the record, beside ``decision_overdue``."""
    verification_findings: list[str] = field(default_factory=list)
    """Where the verification report contradicts the survey (``domain.verification``), for
    the reviewer and the district to see before they decide."""
    emergency_no: str | None = None
    """衔接: the emergency whose confirmed follow-up opened the application."""
    watch: WatchPlan | None = None
    """The watch-list entry its decision puts the household on: a 低保 refusal near the line
    (低保边缘), or a 支出型 临时救助 approved."""

    @property
    def overdue(self) -> bool:
        return self.survey_overdue or self.decision_overdue or self.refusal_notice_overdue

    @property
    def longest_stage(self) -> str | None:
        """The stage that has held the case longest."""
        return max(self.stage_hours, key=self.stage_hours.__getitem__, default=None)


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail (留痕): who did what, when, from which stage to which."""

    case_no: str
    seq: int
    at: datetime
    actor: Actor
    action: str
    from_stage: str | None
    """A stage of the case's kind (``Stage``, ``EmergencyStage``)."""
    to_stage: str
    note: str = ""


def account_holder(people: list[Person], account: BankAccount) -> Person:
    """The member of the household whose account it is (the payee); the first, the applicant,
    when none is named as its holder (the payment system then refuses it)."""
    holder = account.holder.strip()
    return next((p for p in people if p.name.strip() == holder), people[0])


def check_holder(
    people: list[Person], account: BankAccount, *, field: str = "bank_account.holder"
) -> None:
    """An account is paid into only if it is held by a member of the household."""
    if account.holder.strip() not in {p.name.strip() for p in people}:
        raise InvalidData(
            field, "the account must be held by the applicant or a member of the household"
        )


def initial_view(start: CaseStart) -> CaseView:
    """The case as accepted, before anyone has acted on it."""
    return CaseView(
        case_no=start.case_no,
        assistance_type=start.assistance_type,
        stage=Stage.survey,
        township=start.township,
        village=start.village,
        channel=start.channel,
        applicant_name=start.applicant.name,
        household_size=1 + len(start.household),
        accepted_at=start.accepted_at,
        survey_due=start.deadlines.survey_due,
        decision_due=start.deadlines.decision_due,
        provisional=start.deadlines.provisional,
        assignee=start.accepted_by.user_id,
        conflict_of_interest=start.conflict_of_interest is not None,
        bank_account=start.bank_account.masked if start.bank_account else None,
        stage_since=start.accepted_at,
        original_decision_due=start.deadlines.decision_due,
        strict_decision_due=start.deadlines.strict_decision_due,
        recipient_no=start.recipient_no,
        dishonesty_flag=start.dishonesty_flag,
        referral_no=start.referral_no,
        emergency_no=start.emergency_no,
    )
