"""The verification report against the survey (家庭经济状况核对 vs 入户调查): where the platform's
verified income or assets contradict what the survey found, the findings a reviewer and the
district see before they decide. Thresholds are policy settings (placeholders)."""

from decimal import Decimal

from domain.cases import VerificationReport
from domain.policy import Policy


def verification_findings(
    report: VerificationReport,
    *,
    assessed_income: Decimal,
    household_size: int,
    standard: Decimal,
    policy: Policy,
) -> list[str]:
    """The contradictions, each one sentence (none: the report agrees with the survey).
    ``standard``: the monthly 低保 standard per person that applies to the household."""
    findings = []
    line = standard * household_size
    verified = report.household_monthly_income
    if verified >= line > assessed_income:
        findings.append(
            f"verified household income ¥{verified} a month is not below the 低保 line "
            f"¥{line} for {household_size} person(s); the survey assessed ¥{assessed_income}"
        )
    if report.savings > policy.verified_savings_limit:
        findings.append(
            f"verified savings ¥{report.savings} exceed ¥{policy.verified_savings_limit}"
        )
    if report.vehicles > policy.verified_vehicles_allowed:
        findings.append(
            f"{report.vehicles} vehicle(s) registered; {policy.verified_vehicles_allowed} allowed"
        )
    if report.properties > policy.verified_properties_allowed:
        findings.append(
            f"{report.properties} properties registered; "
            f"{policy.verified_properties_allowed} allowed"
        )
    return findings
