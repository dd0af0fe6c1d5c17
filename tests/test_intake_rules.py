"""The rules of intake (``domain.intake``), as the window would meet them: who may take in which
family by which channel, 人户分离 and its years of residence, the expenditure behind a
temporary application, the ceiling of one payment, and the place the family lives. Pure: no
HTTP, no database (the townships and villages a check names are given to it)."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from domain.cases import Applicant, AssistanceType, Channel
from domain.errors import InvalidData, NotPermitted
from domain.intake import (
    ApplicationIntake,
    check_channel,
    check_expense,
    check_lives_within,
    check_place,
    check_requested_amount,
    check_residence,
)
from domain.policy import Policy
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.people import id_number

HOME, AWAY = "370305001", "370305002"
TODAY = date(2026, 3, 2)
APPLICATION = ApplicationIntake(
    assistance_type=AssistanceType.dibao,
    township=HOME,
    village=f"{HOME}001",
    channel=Channel.walk_in,
    applicant=Applicant(name="张三", id_number=id_number(), phone="13800000000"),
    household=[],
    reason="因病致贫",
)


def refused(check, *args, **kwargs) -> InvalidData:
    with pytest.raises(InvalidData) as refusal:
        check(*args, **kwargs)
    return refusal.value


def test_a_family_outside_the_users_jurisdiction_is_not_taken_in():
    check_lives_within(ASSISTANT, f"{HOME}001", who="applicant")
    check_lives_within(OFFICER, f"{AWAY}001", who="applicant")  # the district's: every village
    with pytest.raises(NotPermitted, match="the applicant lives outside your jurisdiction"):
        check_lives_within(ASSISTANT, f"{AWAY}001", who="applicant")
    with pytest.raises(NotPermitted, match="the family lives outside"):
        check_lives_within(COORDINATOR, f"{HOME}002", who="family")  # a neighbouring village


def test_a_village_coordinator_brings_cases_in_but_never_as_a_walk_in():
    assert refused(check_channel, COORDINATOR, Channel.walk_in).field == "channel"
    check_channel(COORDINATOR, Channel.referral)
    check_channel(COORDINATOR, Channel.proactive)
    check_channel(ASSISTANT, Channel.walk_in)


def test_temporary_assistance_names_its_expenditure():
    refusal = refused(check_expense, AssistanceType.temporary, None)
    assert refusal.field == "expense" and "expenditure" in refusal.message
    check_expense(AssistanceType.temporary, "major_illness")
    check_expense(AssistanceType.dibao, None)


@pytest.mark.parametrize("expense", ["major_illness", "education", "disaster_transition", "other"])
def test_a_non_urgent_temporary_application_may_be_for_any_expenditure(expense):
    check_expense(AssistanceType.temporary, expense)


def test_an_unknown_expenditure_is_refused_naming_it():
    assert refused(check_expense, AssistanceType.temporary, "holiday").field == "expense"


def test_applying_where_one_lives_needs_district_hukou_and_the_years_of_residence():
    at_home = {"hukou_in_district": False, "accepted_on": TODAY, "years": 3}
    check_residence(APPLICATION, **at_home)  # 户籍 where one applies: nothing to check
    check_residence(replace(APPLICATION, hukou_township=HOME), **at_home)

    away = replace(APPLICATION, hukou_township=AWAY)
    assert refused(check_residence, away, **at_home).field == "hukou_township"
    in_district = at_home | {"hukou_in_district": True}
    assert refused(check_residence, away, **in_district).field == "resident_since"
    short = replace(away, resident_since=date(2023, 3, 3))  # a day short of 3 years
    refusal = refused(check_residence, short, **in_district)
    assert refusal.field == "resident_since" and "3 years" in refusal.message
    check_residence(replace(away, resident_since=date(2023, 3, 2)), **in_district)


def test_no_emergency_request_asks_more_than_one_payment_may_be():
    policy = Policy()
    check_requested_amount(policy.payment_ceiling, policy)
    refusal = refused(check_requested_amount, policy.payment_ceiling + Decimal("0.01"), policy)
    assert refusal.field == "requested_amount" and str(policy.payment_ceiling) in refusal.message


def test_the_family_lives_in_a_village_of_the_township_it_names():
    check_place(
        township=HOME, village=f"{HOME}001", township_name="齐陵街道", village_township=HOME
    )
    unknown = refused(
        check_place, township="370305999", village=f"{HOME}001", township_name=None,
        village_township=HOME,
    )  # fmt: skip
    assert unknown.field == "township" and "370305999" in unknown.message
    elsewhere = refused(
        check_place, township=HOME, village=f"{AWAY}001", township_name="齐陵街道",
        village_township=AWAY,
    )  # fmt: skip
    assert elsewhere.field == "village" and "not a village of 齐陵街道" in elsewhere.message
    nowhere = refused(
        check_place, township=HOME, village=f"{HOME}999", township_name="齐陵街道",
        village_township=None,
    )  # fmt: skip
    assert nowhere.field == "village"
