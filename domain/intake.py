"""一门受理: what an application or an emergency request must be to be accepted, before a case
number is given. Pure: the store looks up the townships and villages the checks name."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.amounts import Expense
from domain.calendar import whole_years
from domain.cases import (
    Actor,
    Applicant,
    AssistanceType,
    BankAccount,
    Channel,
    ConflictOfInterest,
    HouseholdMember,
    Role,
)
from domain.emergency import Cause
from domain.errors import InvalidData, NotPermitted
from domain.policy import Policy
from domain.townships import covers


@dataclass(frozen=True)
class ApplicationIntake:
    """An application as the window takes it in."""

    assistance_type: AssistanceType
    township: str
    """Where the applicant lives."""
    village: str
    channel: Channel
    applicant: Applicant
    household: list[HouseholdMember]
    """The other members."""
    reason: str
    hukou_township: str | None = None
    """户籍 township; None: ``township``."""
    resident_since: date | None = None
    expense: str | None = None
    conflict_of_interest: ConflictOfInterest | None = None
    bank_account: BankAccount | None = None
    referral_no: str | None = None
    """部门转介: the referral the application answers (its outcome: application opened)."""
    emergency_no: str | None = None
    """衔接: the emergency whose confirmed follow-up opened this application."""


@dataclass(frozen=True)
class EmergencyIntake:
    """An emergency request (急难) as the township takes it in."""

    township: str
    village: str
    channel: Channel
    cause: Cause
    applicant: Applicant
    household: list[HouseholdMember]
    bank_account: BankAccount
    requested_amount: Decimal
    situation: str
    referral_no: str | None = None
    """部门转介: the referral the request answers."""


def check_lives_within(user: Actor, village: str, *, who: str) -> None:
    """A case is taken in for a family of the user's jurisdiction."""
    if not covers(user.jurisdiction, village):
        raise NotPermitted(f"the {who} lives outside your jurisdiction")


def check_place(
    *, township: str, village: str, township_name: str | None, village_township: str | None
) -> None:
    """The family's village is one of the township's, and the township one of the district's
    (``township_name``: None when it is not; ``village_township``: the village's township,
    None when there is no such village)."""
    if township_name is None:
        raise InvalidData("township", f"{township} is not a township of the district")
    if village_township != township:
        raise InvalidData("village", f"{village} is not a village of {township_name}")


def check_channel(user: Actor, channel: Channel) -> None:
    """A village coordinator brings cases in; the family walks in at the township's window."""
    if user.role == Role.village_coordinator and channel == Channel.walk_in:
        raise InvalidData(
            "channel", "a village coordinator submits referrals or proactive discoveries"
        )


def check_expense(assistance_type: AssistanceType, expense: str | None) -> None:
    """支出型临时救助 is for an expenditure, which the application names."""
    if assistance_type == AssistanceType.temporary and expense is None:
        raise InvalidData("expense", "temporary assistance names its expenditure")
    if expense is not None and expense not in set(Expense):
        known = ", ".join(Expense)
        raise InvalidData("expense", f"the expenditure is one of {known}, not {expense!r}")


def check_residence(
    application: ApplicationIntake, *, hukou_in_district: bool, accepted_on: date, years: int
) -> None:
    """人户分离: apply where one lives, with district 户籍 (``hukou_in_district``: the 户籍
    township is one of the district's) and ``years`` of residence."""
    hukou = application.hukou_township or application.township
    if hukou == application.township:
        return
    if not hukou_in_district:
        raise InvalidData(
            "hukou_township",
            "applying away from one's 户籍 needs 户籍 in a township of this district",
        )
    if application.resident_since is None:
        raise InvalidData("resident_since", "say since when the applicant has lived here")
    if whole_years(application.resident_since, accepted_on) < years:
        raise InvalidData(
            "resident_since",
            f"applying where one lives needs {years} years of residence there; "
            "apply in the 户籍 township instead",
        )


def check_requested_amount(amount: Decimal, policy: Policy) -> None:
    """No single payment exceeds the ceiling, whatever the approval."""
    if amount > policy.payment_ceiling:
        raise InvalidData(
            "requested_amount", f"no single payment exceeds ¥{policy.payment_ceiling}"
        )
