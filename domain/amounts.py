"""Assistance amounts (救助金额), in yuan, to the fen."""

from decimal import ROUND_HALF_UP, Decimal

from domain.policy import Policy

FEN = Decimal("0.01")


def dibao_monthly_amount(*, standard: Decimal, household_size: int, household_income: Decimal) -> Decimal:
    """低保 pays the gap: (standard − per-capita income) × household size, never below zero."""
    gap = standard * household_size - household_income
    return max(gap, Decimal(0)).quantize(FEN, ROUND_HALF_UP)


def tekun_monthly_amount(*, policy: Policy, year: int, area: str) -> Decimal:
    """特困 basic living standard: 1.5 × urban or 1.3 × rural 低保 standard (seed §2)."""
    standard = policy.dibao_standard(year)
    if area == "urban":
        return (standard.urban * policy.tekun_urban_ratio).quantize(FEN, ROUND_HALF_UP)
    return (standard.rural * policy.tekun_rural_ratio).quantize(FEN, ROUND_HALF_UP)


def temporary_band(*, policy: Policy, year: int, expense: str) -> tuple[Decimal, Decimal]:
    """Expenditure-type 临时救助: 3–12 × (major illness) or 3–6 × (education) the monthly
    urban 低保 standard (seed §5). Above the band is 一事一议."""
    low, high = policy.major_illness_band if expense == "major_illness" else policy.education_band
    urban = policy.dibao_standard(year).urban
    return (urban * low).quantize(FEN), (urban * high).quantize(FEN)
