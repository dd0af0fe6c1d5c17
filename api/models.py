"""Request and response bodies. Field names are the API's contract; money is a decimal string."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from domain.cases import AssistanceType, Channel, Stage, VerificationReport
from domain.identity import normalize_id_number, normalize_phone

IdNumber = Annotated[str, AfterValidator(normalize_id_number)]
Phone = Annotated[str, AfterValidator(normalize_phone)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class ApplicantIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=50)]
    id_number: IdNumber
    phone: Phone


class HouseholdMemberIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=50)]
    id_number: IdNumber
    relation: Annotated[str, Field(min_length=1, max_length=20)]
    monthly_income: Money = Decimal(0)


class ConflictOfInterestIn(BaseModel):
    """近亲属备案: the applicant is a close relative of a caseworker or village-committee member."""

    related_person: Annotated[str, Field(min_length=1)]
    position: Literal["caseworker", "village_committee"]
    relation: Annotated[str, Field(min_length=1)]


class ApplicationCreate(BaseModel):
    assistance_type: AssistanceType
    township: Annotated[str, Field(pattern=r"^\d{9}$", description="where the applicant lives")]
    village: Annotated[str, Field(pattern=r"^\d{12}$")]
    channel: Channel = Channel.walk_in
    applicant: ApplicantIn
    household: list[HouseholdMemberIn] = Field(default_factory=list, description="the other members")
    hukou_township: str | None = Field(default=None, description="户籍 township; default: township")
    resident_since: date | None = Field(default=None, description="needed when hukou is elsewhere")
    reason: Text
    expense: Literal["major_illness", "education"] | None = Field(
        default=None, description="temporary assistance: the expenditure behind it"
    )
    conflict_of_interest: ConflictOfInterestIn | None = None

    @field_validator("household")
    @classmethod
    def _distinct_people(cls, household: list[HouseholdMemberIn]) -> list[HouseholdMemberIn]:
        numbers = [m.id_number for m in household]
        if len(set(numbers)) != len(numbers):
            raise ValueError("the same ID number appears twice in the household")
        return household


class SurveyCreate(BaseModel):
    investigators: list[Annotated[str, Field(min_length=1, max_length=50)]]
    visited_on: date
    findings: Text
    assessed_monthly_income: Money


class ReviewCreate(BaseModel):
    recommendation: Literal["approve", "refuse"]
    reasons: Text
    amount: Money | None = Field(default=None, description="temporary assistance: the amount proposed")


class ObjectionCreate(BaseModel):
    raised_by: Annotated[str, Field(min_length=1, max_length=100)]
    grounds: Text


class DecisionCreate(BaseModel):
    outcome: Literal["approve", "refuse"]
    reasons: Text


class DocumentsRequestCreate(BaseModel):
    documents: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    note: str = ""


class DocumentsReceiptCreate(BaseModel):
    note: str = ""


class WithdrawalCreate(BaseModel):
    reason: Text


class CasePublic(BaseModel):
    """A case: its stage, deadlines (Asia/Shanghai dates) and one timestamp per stage (UTC)."""

    model_config = ConfigDict(from_attributes=True)

    case_no: str
    assistance_type: AssistanceType
    stage: Stage
    township: str
    village: str
    channel: Channel
    applicant_name: str
    household_size: int
    assignee: str
    conflict_of_interest: bool
    accepted_at: datetime
    survey_due: date
    decision_due: date
    provisional: bool = Field(description="a deadline falls in a year whose holidays are not yet published")
    paused_from: Stage | None
    pending_documents: list[str]
    verification: VerificationReport | None
    surveyed_at: datetime | None
    reviewed_at: datetime | None
    notice_started_at: datetime | None
    notice_ends_at: datetime | None
    decided_at: datetime | None
    closed_at: datetime | None
    refusal_notice_due: date | None
    refusal_notified_at: datetime | None
    first_payment_at: datetime | None
    monthly_amount: Decimal | None
    objections: int
    survey_overdue: bool
    decision_overdue: bool
    refusal_notice_overdue: bool
    overdue: bool


class CasePage(BaseModel):
    items: list[CasePublic]
    total: int
    page: int
    page_size: int


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


class VillagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: Annotated[str, Field(pattern=r"^\d{12}$")]
    name: Annotated[str, Field(min_length=1)]


class TownshipPublic(BaseModel):
    code: str
    name: str
    area: Literal["urban", "rural"]
    villages: list[VillagePublic]


class TownshipUpdate(BaseModel):
    name: Annotated[str, Field(min_length=1)]
    area: Literal["urban", "rural"]
    villages: list[VillagePublic]


class CalendarYearPut(BaseModel):
    """The State Council's notice for a year: holidays, and weekend days made working days."""

    holidays: list[date]
    workdays: list[date] = Field(default_factory=list)


class CalendarYearPublic(BaseModel):
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
