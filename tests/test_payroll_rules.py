"""The rules of the register and the payroll, without Temporal: months, what a month pays, which
months a payroll may run for."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.cases import Person, Stage
from domain.errors import InvalidData
from domain.months import Month
from domain.payroll import BatchTotals, check_month, item_key, waves
from domain.recipients import (
    BenefitChange,
    RecipientStatus,
    is_recipient_number,
    recipient_number,
    register,
    registered_by,
)
from tests.helpers.actors import OFFICER


def test_a_month_is_written_yyyy_mm_in_a_year_the_system_can_mean():
    assert str(Month.parse("2026-12")) == "2026-12" and Month.parse(" 2027-01 ") == Month(2027, 1)
    for bad in ("2026-13", "2026-00", "1900-05", "26-12", "2026/12", "2026-1", ""):
        with pytest.raises(InvalidData) as refused:
            Month.parse(bad)
        assert refused.value.field == "month"
    assert Month(2026, 12).plus(1) == Month(2027, 1) and Month(2027, 1).plus(-1) == Month(2026, 12)
    assert Month(2026, 11).plus(-23) == Month(2024, 12)
    # 2026-11-30 16:30 UTC is already December in Asia/Shanghai.
    assert Month.at(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == Month(2026, 12)


def test_a_payroll_runs_for_this_month_or_next_at_the_latest():
    now = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    assert check_month("2026-12", now=now) == Month(2026, 12)
    assert check_month("2027-01", now=now) == Month(2027, 1)
    assert check_month("2026-06", now=now) == Month(2026, 6)  # a month missed may still run
    with pytest.raises(InvalidData, match="latest is 2027-01") as refused:
        check_month("2027-02", now=now)
    assert refused.value.field == "month"


def registered(at=datetime(2026, 12, 5, 2, tzinfo=UTC), amount="1760.00"):
    return register(
        recipient_no="370305-DB-2026-000001",
        case_no="370305-2026-000001",
        assistance_type="dibao",
        township="370305001",
        village="370305001001",
        applicant=Person(name="张三", id_number="11010519491231002X"),
        household_size=2,
        amount=Decimal(amount),
        account="****2222",
        approved_by=OFFICER,
        approved_at=at,
    )


def test_a_registered_household_is_paid_from_the_month_of_its_approval():
    view, entry = registered()
    assert view.start_month == "2026-12" and view.status == RecipientStatus.active
    assert entry.action == "registered" and entry.case_no == view.recipient_no
    assert view.amount_in(Month(2026, 11)) is None  # before the benefit began
    assert view.amount_in(Month(2026, 12)) == Decimal("1760.00")
    assert view.amount_in(Month(2027, 6)) == Decimal("1760.00")


def test_each_month_pays_what_the_decision_in_force_says():
    view, _ = registered()
    at = datetime(2027, 2, 1, tzinfo=UTC)
    view.course += [
        BenefitChange("2027-03", RecipientStatus.active, Decimal("1500.00"), "收入增加", "u", at),
        BenefitChange("2027-05", RecipientStatus.suspended, Decimal("1500.00"), "外出", "u", at),
        BenefitChange("2027-07", RecipientStatus.phasing_out, Decimal("1500.00"), "就业", "u", at),
        BenefitChange("2028-01", RecipientStatus.terminated, Decimal("0"), "渐退期满", "u", at),
    ]
    paid = {str(m): view.amount_in(m) for m in (Month(2027, n) for n in range(2, 13))}
    assert paid["2027-02"] == Decimal("1760.00") and paid["2027-04"] == Decimal("1500.00")
    assert paid["2027-05"] is None and paid["2027-06"] is None
    assert paid["2027-07"] == paid["2027-12"] == Decimal("1500.00")
    assert view.amount_in(Month(2028, 1)) is None
    # Decided twice for one month: the later decision stands.
    later = replace(view.course[1], amount=Decimal("1400.00"), at=datetime(2027, 2, 2, tzinfo=UTC))
    view.course.append(later)
    assert view.amount_in(Month(2027, 3)) == Decimal("1400.00")


def test_only_an_approved_dibao_or_tekun_case_makes_a_recipient():
    assert registered_by(Stage.approved, "dibao") and registered_by(Stage.approved, "tekun")
    assert not registered_by(Stage.approved, "temporary")
    assert not registered_by(Stage.refused, "dibao")
    assert RecipientStatus.suspended.standing and not RecipientStatus.terminated.standing
    assert RecipientStatus.phasing_out.paid and not RecipientStatus.suspended.paid


def test_a_batch_is_reconciled_when_the_bank_and_the_register_agree_to_the_fen():
    assert item_key("R-1", Month(2026, 12)) == "R-1:2026-12"
    agreed = BatchTotals("b", 3, Decimal("3240.00"), 3, Decimal("3240.00"))
    assert agreed.reconciled and agreed.difference == 0
    short = BatchTotals("b", 3, Decimal("3240.00"), 3, Decimal("3239.99"))
    assert not short.reconciled and short.difference == Decimal("0.01")


def test_a_households_number_is_told_from_a_cases():
    number = recipient_number(district="370305", assistance_type="tekun", year=2026, seq=42)
    assert number == "370305-TK-2026-000042" and is_recipient_number(number)
    assert not is_recipient_number("370305-2026-000042")  # a case's


def test_townships_run_in_waves_of_the_size_asked():
    townships = [f"3703051{n:02d}" for n in range(5)]
    assert waves(townships, 2) == [townships[:2], townships[2:4], townships[4:]]
    assert waves(townships, 0) == waves(townships, 5) == waves(townships, 9) == [townships]
