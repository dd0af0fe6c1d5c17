"""The rules of a decision on a recipient household's benefit (domain.benefits), without
Temporal or a database: what each outcome makes each month pay, and what cannot stand."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.benefits import BenefitDecision, Outcome, check_decision, decide, standard_amount
from domain.cases import Applicant
from domain.corrections import amount_under, overpayment
from domain.errors import InvalidData
from domain.months import Month
from domain.policy import DibaoStandard, Policy
from domain.recipients import RecipientStatus, RecipientView, register
from tests.helpers.actors import OFFICER

POLICY = Policy()
APPROVED = datetime(2026, 3, 15, 2, tzinfo=UTC)  # 2026-03 in Asia/Shanghai
NOW = datetime(2026, 5, 20, 2, tzinfo=UTC)
START = Month(2026, 3)


def household(assistance_type: str = "dibao", amount: str = "800.00", **more) -> RecipientView:
    view, _ = register(
        recipient_no="370305-DB-2026-000001", case_no="370305-2026-000001",
        assistance_type=assistance_type, township="370305001", village="370305001001",
        applicant=Applicant(name="张三", id_number="x", phone="13800000000"),
        household_size=2, amount=Decimal(amount), account="****1234", approved_by=OFFICER,
        approved_at=APPROVED, area="urban", **more,
    )  # fmt: skip
    return view


def decision(outcome: str, **fields) -> BenefitDecision:
    return BenefitDecision(
        actor=OFFICER, outcome=outcome, reasons=fields.pop("reasons", "核查"), **fields
    )


def apply(view: RecipientView, made: BenefitDecision, reference: str = "review-1") -> str:
    month = check_decision(view, made, now=NOW, policy=POLICY)
    return decide(
        view, made, month=month, now=NOW, phase_out_months=POLICY.phase_out_months,
        reference=reference,
    )  # fmt: skip


def paid(view: RecipientView, first: str, last: str) -> list[Decimal | None]:
    """What each month from ``first`` to ``last`` pays."""
    month, end, amounts = Month.parse(first), Month.parse(last), []
    while month <= end:
        amounts.append(view.amount_in(month))
        month = month.plus(1)
    return amounts


D = Decimal


def test_a_registered_household_is_paid_from_its_approval_month_and_not_before():
    view = household()
    assert paid(view, "2026-02", "2026-05") == [None, D("800.00"), D("800.00"), D("800.00")]


def test_each_outcome_from_its_month():
    cases = {
        "continue": ({}, [D(800)] * 4),
        "adjust": ({"amount": D("650.00")}, [D(800), D(800), D(650), D(650)]),
        "suspend": ({}, [D(800), D(800), None, None]),
        "terminate": ({}, [D(800), D(800), None, None]),
        "revoke": ({}, [D(800), D(800), None, None]),
    }
    for outcome, (fields, expected) in cases.items():
        view = household()
        note = apply(view, decision(outcome, effective_month="2026-06", **fields))
        assert paid(view, "2026-04", "2026-07") == expected, outcome
        assert note.endswith("核查"), note
    # Without a month a decision holds from the next one.
    view = household()
    apply(view, decision("terminate"))
    assert paid(view, "2026-05", "2026-06") == [D(800), None]
    assert view.status is RecipientStatus.terminated


def test_suspended_then_resumed_at_a_new_amount():
    view = household()
    apply(view, decision("suspend", effective_month="2026-06"), "review-1")
    apply(view, decision("resume", effective_month="2026-08", amount=D("700")), "review-2")
    assert paid(view, "2026-05", "2026-09") == [D(800), None, None, D(700), D(700)]
    assert view.status is RecipientStatus.active


def test_phase_out_pays_on_for_its_months_then_nothing():
    view = household()
    note = apply(view, decision("phase_out", effective_month="2026-06"))
    months = POLICY.phase_out_months
    assert paid(view, "2026-06", str(Month(2026, 6).plus(months - 1))) == [D(800)] * months
    assert view.amount_in(Month(2026, 6).plus(months)) is None
    assert view.change_in(Month(2026, 7)).status is RecipientStatus.phasing_out
    assert f"ended from {Month(2026, 6).plus(months)}" in note


def test_an_effective_month_before_the_benefit_began_is_refused():
    with pytest.raises(InvalidData) as refused:
        check_decision(
            household(), decision("terminate", effective_month="2026-02"), now=NOW, policy=POLICY
        )
    assert refused.value.field == "effective_month"


def test_a_month_the_payroll_has_paid_is_for_a_correction_only():
    view = household()
    late = decision("adjust", effective_month="2026-04", amount=D(700))
    with pytest.raises(InvalidData) as refused:
        check_decision(view, late, now=NOW, policy=POLICY, earliest=Month(2026, 6))
    assert refused.value.field == "effective_month"
    assert check_decision(view, late, now=NOW, policy=POLICY) == Month(2026, 4)  # a correction


def test_a_decision_without_reasons_is_refused():
    with pytest.raises(InvalidData) as refused:
        check_decision(household(), decision("terminate", reasons="  "), now=NOW, policy=POLICY)
    assert refused.value.field == "reasons"


def test_an_amount_above_the_standard_needs_an_exception():
    view = household()
    most = standard_amount(view, policy=POLICY, month=Month(2026, 6))
    assert most == D("2160.00")  # two people, no income, urban 2026
    above = decision("adjust", effective_month="2026-06", amount=most + 1)
    with pytest.raises(InvalidData) as refused:
        check_decision(view, above, now=NOW, policy=POLICY)
    assert refused.value.field == "amount"
    exception = decision(
        "adjust", effective_month="2026-06", amount=most + 1, exception_reason="重病"
    )
    assert check_decision(view, exception, now=NOW, policy=POLICY) == Month(2026, 6)
    for bad in (
        decision("adjust", effective_month="2026-06"),  # no amount
        decision("terminate", effective_month="2026-06", amount=D(100)),  # no amount to set
        decision("adjust", effective_month="2026-06", amount=D(0)),
    ):
        with pytest.raises(InvalidData) as refused:
            check_decision(view, bad, now=NOW, policy=POLICY)
        assert refused.value.field == "amount"


def test_resume_when_not_suspended_and_unknown_outcomes_are_refused():
    for bad in (decision("resume", effective_month="2026-06"), decision("pause")):
        with pytest.raises(InvalidData) as refused:
            check_decision(household(), bad, now=NOW, policy=POLICY)
        assert refused.value.field == "outcome"
    ended = household()
    apply(ended, decision("terminate", effective_month="2026-06"))
    with pytest.raises(InvalidData) as refused:
        check_decision(
            ended,
            decision("adjust", effective_month="2026-07", amount=D(1)),
            now=NOW,
            policy=POLICY,
        )
    assert refused.value.field == "outcome"


def test_a_decision_with_the_same_reference_twice_changes_nothing():
    view = household()
    made = decision("adjust", effective_month="2026-06", amount=D(650))
    assert apply(view, made, "correction-1")
    course = list(view.course)
    again = decision("terminate", effective_month="2026-06")
    assert apply(view, again, "correction-1") == ""
    assert view.course == course and view.amount_in(Month(2026, 7)) == D(650)


def test_a_new_standard_keeps_the_status_and_sets_the_amount():
    view = household()
    apply(view, decision("phase_out", effective_month="2026-06"), "review-1")
    standard = decision(Outcome.new_standard, effective_month="2026-07", amount=D(900))
    apply(view, standard, "standard-2026-07")
    assert paid(view, "2026-05", "2026-08") == [D(800), D(800), D(900), D(900)]
    assert view.change_in(Month(2026, 7)).status is RecipientStatus.phasing_out
    assert view.amount_in(Month(2026, 6).plus(POLICY.phase_out_months)) is None
    suspended = household()
    apply(suspended, decision("suspend", effective_month="2026-06"))
    with pytest.raises(InvalidData) as refused:
        check_decision(suspended, standard, now=NOW, policy=POLICY)
    assert refused.value.field == "outcome"


def test_a_households_amount_under_a_new_standard():
    new, old = DibaoStandard(D(1150), D(950)), POLICY.dibao_standard(2026)
    month = Month(2027, 1)
    assessed = household(assessed_income=D("500"))
    assert amount_under(assessed, standard=new, before=old, month=month, policy=POLICY) == D(1800)
    # Income not kept: the gap its amount left under the old standard is kept.
    unknown = household(amount="1000.00")
    assert amount_under(unknown, standard=new, before=old, month=month, policy=POLICY) == D(1140)
    tekun = household("tekun", amount="1620.00")
    assert amount_under(tekun, standard=new, before=old, month=month, policy=POLICY) == D(1725)


def test_what_a_correction_finds_overpaid():
    view = household()
    apply(view, decision("adjust", effective_month="2026-04", amount=D(600)), "correction-1")
    months = {"2026-03": D(800), "2026-04": D(800), "2026-05": D(500)}
    found = overpayment(view, months, since=Month(2026, 4))
    assert found.months == {"2026-04": D(200)} and found.amount == D(200)
    assert found.underpaid == {"2026-05": D(100)}
