"""The verification report against the survey (``domain.verification``): pure, no clock."""

from decimal import Decimal

from domain.cases import VerificationReport
from domain.policy import Policy
from domain.verification import verification_findings

POLICY = Policy()
STANDARD = Decimal("1080")


def report(income="500", savings="1000", vehicles=0, properties=1) -> VerificationReport:
    return VerificationReport(
        report_id="rp_1",
        household_monthly_income=Decimal(income),
        savings=Decimal(savings),
        vehicles=vehicles,
        properties=properties,
    )


def findings(r: VerificationReport, assessed="400", size=2) -> list[str]:
    return verification_findings(
        r, assessed_income=Decimal(assessed), household_size=size, standard=STANDARD, policy=POLICY
    )


def test_a_report_that_agrees_with_the_survey_finds_nothing():
    assert findings(report()) == []
    assert findings(report(savings="30000", properties=1)) == []  # at the allowance


def test_verified_income_above_the_line_contradicts_an_assessment_below_it():
    [found] = findings(report(income="2160"))
    assert "¥2160" in found and "¥2160" in found and "¥400" in found
    assert findings(report(income="2159.99")) == []
    assert findings(report(income="3000"), assessed="2500") == []  # the survey saw it too


def test_savings_vehicles_and_properties_beyond_the_allowances():
    found = findings(report(savings="30000.01", vehicles=1, properties=2))
    assert len(found) == 3
    assert "savings" in found[0] and "vehicle" in found[1] and "properties" in found[2]
