"""The register of recipient households (建档立卡: 一户一案、一人一册): an approved 低保 or
特困 household becomes a recipient with its own number, amount, status and trail, and is paid
every month by the district's payroll (按月社会化发放) until a decision ends it.

A benefit's course is a list of decisions, each effective from a month (its status and amount
from then on); what a month pays is read from it, so a change decided today takes effect in the
payroll of its month, exactly. Pure: the store keeps recipients, the payroll pays them.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from domain.calendar import local_date
from domain.cases import Actor, AuditEntry, Person, Stage
from domain.months import Month

TYPE_CODES = {"dibao": "DB", "tekun": "TK"}
"""A household's type in its number (建档号: district-type-year-sequence)."""


def recipient_number(*, district: str, assistance_type: str, year: int, seq: int) -> str:
    return f"{district}-{TYPE_CODES[assistance_type]}-{year}-{seq:06d}"


def is_recipient_number(number: str) -> bool:
    """A household's number rather than a case's (both hold claims)."""
    parts = number.split("-")
    return len(parts) == 4 and parts[1] in TYPE_CODES.values()


class RecipientStatus(StrEnum):
    active = "active"
    suspended = "suspended"  # 暂停: not paid until resumed
    phasing_out = "phasing_out"  # 渐退: paid for a set number of months, then ended
    terminated = "terminated"  # 终止

    @property
    def standing(self) -> bool:
        """Holds its members' one standing benefit: none of them may apply for another."""
        return self is not RecipientStatus.terminated

    @property
    def paid(self) -> bool:
        return self in (RecipientStatus.active, RecipientStatus.phasing_out)


STANDING_TYPES = ("dibao", "tekun")
"""The assistance types that make a recipient household (临时救助 is paid once)."""
STANDING_CLAIM = "standing"
"""The household claim an application for 低保 or 特困 takes, and its recipient keeps: a person
has at most one of them, open or standing, whichever its type."""


@dataclass(frozen=True)
class BenefitChange:
    """A decision on the benefit, effective from ``from_month``: the status and the monthly
    amount from then on."""

    from_month: str
    status: RecipientStatus
    amount: Decimal
    reason: str
    decided_by: str
    at: datetime
    reference: str = ""
    """The review or correction that made it (a decision is on the course once)."""


@dataclass
class RecipientView:
    """A recipient household as its caseworkers see it (numbers masked: the members' ID
    numbers live sealed in the store)."""

    recipient_no: str
    case_no: str
    assistance_type: str
    township: str
    village: str
    applicant_name: str
    household_size: int
    monthly_amount: Decimal
    start_month: str
    status: RecipientStatus
    bank_account: str
    """Masked: the last four digits."""
    registered_at: datetime
    course: list[BenefitChange] = field(default_factory=list)
    version: int = 0
    care_form: str | None = None
    """特困: dispersed (分散供养) | centralised (集中供养); None for 低保, and for a household
    registered before the care form was recorded."""
    self_care: str | None = None
    """特困: full | partial | none (生活自理能力)."""
    institution: str | None = None
    """特困 in centralised care: the care institution, whose account is paid."""
    area: str | None = None
    """urban | rural: which 低保 standard applies (None: registered before it was kept)."""
    review_cadence: str = "yearly"
    """定期核查: ``yearly`` or ``half_yearly``, set at approval by the district."""
    review_due: date | None = None
    """When the household's next periodic review is due."""
    open_review: str | None = None
    """The review under way (one at a time)."""
    reviews: int = 0
    """Reviews opened so far (their numbers count on from it)."""
    assessed_income: Decimal | None = None
    """The household's monthly income as its approving case's survey assessed it, in yuan: what
    a new 低保 standard's amount is computed from (None: registered before it was kept)."""

    def change_in(self, month: Month) -> BenefitChange | None:
        """The decision in force in ``month`` (None before the benefit began)."""
        if month < Month.parse(self.start_month):
            return None
        in_force = [c for c in self.course if Month.parse(c.from_month) <= month]
        return max(in_force, key=lambda c: (Month.parse(c.from_month), c.at), default=None)

    def amount_in(self, month: Month) -> Decimal | None:
        """What the payroll of ``month`` pays the household (None: nothing)."""
        change = self.change_in(month)
        return change.amount if change and change.status.paid else None


CADENCE_MONTHS = {"yearly": 12, "half_yearly": 6}


def next_review_due(after: date, cadence: str) -> date:
    """The periodic review's due date, a cadence after ``after`` (the month's last day when
    the day does not exist in it)."""
    month = Month.of(after).plus(CADENCE_MONTHS[cadence])
    last = (month.plus(1).first_day - month.first_day).days
    return date(month.year, month.month, min(after.day, last))


def review_number(recipient_no: str, seq: int) -> str:
    """核查号: the household's number and the review's sequence."""
    return f"{recipient_no}-R{seq:02d}"


def register(
    *,
    recipient_no: str,
    case_no: str,
    assistance_type: str,
    township: str,
    village: str,
    applicant: Person,
    household_size: int,
    amount: Decimal,
    account: str,
    approved_by: Actor,
    approved_at: datetime,
    care_form: str | None = None,
    self_care: str | None = None,
    institution: str | None = None,
    area: str | None = None,
    review_cadence: str = "yearly",
    assessed_income: Decimal | None = None,
) -> tuple[RecipientView, AuditEntry]:
    """The household approved by case ``case_no`` enters the register, paid from the month of
    its approval (that month by the approval's own payment)."""
    start = Month.at(approved_at)
    view = RecipientView(
        recipient_no=recipient_no,
        case_no=case_no,
        assistance_type=assistance_type,
        township=township,
        village=village,
        applicant_name=applicant.name,
        household_size=household_size,
        monthly_amount=amount,
        start_month=str(start),
        status=RecipientStatus.active,
        bank_account=account,
        registered_at=approved_at,
        care_form=care_form,
        self_care=self_care,
        institution=institution,
        area=area,
        review_cadence=review_cadence,
        review_due=next_review_due(local_date(approved_at), review_cadence),
        assessed_income=assessed_income,
        course=[
            BenefitChange(
                from_month=str(start),
                status=RecipientStatus.active,
                amount=amount,
                reason=f"approved by case {case_no}",
                decided_by=approved_by.user_id,
                at=approved_at,
            )
        ],
    )
    entry = AuditEntry(
        case_no=recipient_no,
        seq=0,
        at=approved_at,
        actor=approved_by,
        action="registered",
        from_stage=None,
        to_stage=RecipientStatus.active,
        note=f"approved by case {case_no}: ¥{amount} a month from {start}"
        + (f"; centralised care, paid to {institution}" if institution else ""),
    )
    return view, entry


def claim_of(assistance_type: str) -> str:
    """The household claim an application of this type takes: 低保 and 特困 share one (a person
    has one standing benefit, applied for or held)."""
    return STANDING_CLAIM if assistance_type in STANDING_TYPES else assistance_type


def registered_by(stage: Stage, assistance_type: str) -> bool:
    """Whether a case at ``stage`` makes a recipient household."""
    return stage == Stage.approved and assistance_type in STANDING_TYPES
