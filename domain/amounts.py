"""Assistance amounts (救助金额), in yuan, to the fen."""

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from domain.errors import InvalidData
from domain.policy import Policy

FEN = Decimal("0.01")


def dibao_monthly_amount(
    *, standard: Decimal, household_size: int, household_income: Decimal
) -> Decimal:
    """低保 pays the gap: (standard − per-capita income) × household size, never below zero."""
    gap = standard * household_size - household_income
    return max(gap, Decimal(0)).quantize(FEN, ROUND_HALF_UP)


def tekun_monthly_amount(*, policy: Policy, year: int, area: str) -> Decimal:
    """特困 basic living standard: 1.5 × urban or 1.3 × rural 低保 standard (the policy's
    ``tekun_urban_ratio`` and ``tekun_rural_ratio``)."""
    standard = policy.dibao_standard(year)
    if area == "urban":
        return (standard.urban * policy.tekun_urban_ratio).quantize(FEN, ROUND_HALF_UP)
    return (standard.rural * policy.tekun_rural_ratio).quantize(FEN, ROUND_HALF_UP)


class Expense(StrEnum):
    """支出型临时救助: the expenditure behind a non-urgent application."""

    major_illness = "major_illness"  # 重特大疾病
    education = "education"  # 子女教育费用负担过重
    disaster_transition = "disaster_transition"  # 受灾群众过渡期生活救助
    other = "other"  # 其他支出型困难


def temporary_band(*, policy: Policy, year: int, expense: str) -> tuple[Decimal, Decimal]:
    """Expenditure-type 临时救助, in multiples of the monthly urban 低保 standard: 3–12 × (major
    illness), 3–6 × (education), and the placeholders for disaster transition and any other
    expenditure (the policy's ``…_band``). Above the band is 一事一议."""
    bands = {
        Expense.major_illness: policy.major_illness_band,
        Expense.education: policy.education_band,
        Expense.disaster_transition: policy.disaster_transition_band,
        Expense.other: policy.other_expense_band,
    }
    if expense not in bands:
        known = ", ".join(bands)
        raise InvalidData("expense", f"the expenditure is one of {known}, not {expense!r}")
    low, high = bands[Expense(expense)]
    urban = policy.dibao_standard(year).urban
    return (urban * low).quantize(FEN), (urban * high).quantize(FEN)


def application_amount(
    *,
    assistance_type: str,
    area: str,
    expense: str | None,
    household_size: int,
    assessed_income: Decimal,
    proposed: Decimal | None,
    policy: Policy,
    year: int,
    field: str,
    exception: bool = False,
) -> Decimal:
    """What an approved application pays: monthly for 低保 and 特困, once for 临时救助.

    ``InvalidData`` when there is nothing to approve: a household income at or above the 低保
    line (naming ``field``, the choice that cannot stand), or a 临时救助 amount missing or
    outside its band (naming ``amount``). With ``exception`` (一事一议, a district officer's
    reason on the record) a 临时救助 amount may lie above the band, up to the payment ceiling,
    never below it: 一事一议 only raises an amount (适度提高).
    """
    if assistance_type == "dibao":
        standard = policy.dibao_standard(year)
        amount = dibao_monthly_amount(
            standard=standard.urban if area == "urban" else standard.rural,
            household_size=household_size,
            household_income=assessed_income,
        )
        if amount <= 0:
            raise InvalidData(
                field,
                f"the household's assessed income ¥{assessed_income} is not below the 低保 line "
                f"for {household_size} person(s); the application can only be refused",
            )
        return amount
    if assistance_type == "tekun":
        return tekun_monthly_amount(policy=policy, year=year, area=area)
    low, high = temporary_band(policy=policy, year=year, expense=expense or "")
    if proposed is None:
        raise InvalidData(
            "amount", f"temporary assistance needs an amount between ¥{low} and ¥{high}"
        )
    if exception and low <= proposed <= policy.payment_ceiling:
        return proposed
    if exception and proposed < low:
        raise InvalidData(
            "amount",
            f"¥{proposed} is below the band ¥{low}–¥{high} for {expense}; 一事一议 only raises "
            "an amount (适度提高), never lowers it below the band",
        )
    if not low <= proposed <= high:
        raise InvalidData(
            "amount",
            f"¥{proposed} is outside the band ¥{low}–¥{high} for {expense}; a higher amount is "
            "一事一议: a district officer's decision with an exception_reason",
        )
    return proposed


EXPENDITURE_CAUSES = ("major_illness", "education")
"""支出型: the emergency causes with a band of their own; the others are urgent (急难型) — a
disaster's emergency included (its transition, 过渡期生活救助, is an application's)."""


def emergency_band(*, policy: Policy, year: int, cause: str) -> tuple[Decimal, Decimal]:
    """What an emergency payment for ``cause`` may be without 一事一议.

    For a 支出型 cause (a major illness, education) the 24-hour payment is what the family needs
    now, up to the top of the cause's band: the band's floor binds the 临时救助 application that
    follows, not the emergency (so a township leader can pay an illness within their limit)."""
    if cause in EXPENDITURE_CAUSES:
        _, high = temporary_band(policy=policy, year=year, expense=cause)
        return FEN, high
    urban = policy.dibao_standard(year).urban
    low, high = policy.urgent_band
    return (urban * low).quantize(FEN), (urban * high).quantize(FEN)
