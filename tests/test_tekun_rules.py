"""特困 eligibility and care (``domain.tekun``), and what the district's decision on a 特困
application does with them (``domain.application``). Pure: no Temporal, no database, no clock.

The applicant's age comes from the birth date in the ID number; "today" is given."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from domain.application import Application
from domain.cases import (
    AssistanceType,
    BankAccount,
    BankAccountRecord,
    CareInstitution,
    DecisionRecord,
    Person,
    Stage,
    SurveyRecord,
)
from domain.compliance import CareFacts, centralised_care
from domain.errors import InvalidData
from domain.policy import Policy
from domain.tekun import check_care, check_eligibility
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.people import id_number
from tests.test_application_rules import DECIDED, at_decision, start

TODAY = date(2026, 3, 17)
INSTITUTION = CareInstitution(
    name="临淄区社会福利中心",
    account=BankAccount(
        bank="齐商银行", account_no="6217000099990001", holder="临淄区社会福利中心"
    ),
)


def born(day: date) -> Person:
    return Person(name="张三", id_number=id_number(day.strftime("%Y%m%d")))


def years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years)


def found(**facts) -> SurveyRecord:
    """A survey that found no income and no one able to support the applicant, and whatever
    else ``facts`` say."""
    fields = dict(has_income=False, supporter_able=False) | facts
    return SurveyRecord(
        actor=COORDINATOR,
        investigators=["李协理", "周干事"],
        visited_on=TODAY,
        findings="独居，无收入",
        assessed_monthly_income=Decimal(0),
        **fields,
    )


def refused_on(person: Person, survey: SurveyRecord | None, today: date = TODAY) -> str:
    """The field the rule names in refusing."""
    with pytest.raises(InvalidData) as refused:
        check_eligibility(person=person, survey=survey, today=today)
    return refused.value.field


def eligible(person: Person, survey: SurveyRecord, today: date = TODAY) -> bool:
    check_eligibility(person=person, survey=survey, today=today)
    return True


# ---- who: age, or a severe disability ------------------------------------------------------


def test_sixty_on_the_day_of_the_sixtieth_birthday_not_the_day_before():
    person = born(years_before(TODAY, 60))
    assert eligible(person, found())
    younger = born(years_before(TODAY, 60).replace(day=TODAY.day + 1))  # 60 tomorrow
    assert refused_on(younger, found()) == "survey.disability_grade"


def test_a_minor_until_the_day_before_the_eighteenth_birthday():
    """The seed extends 特困 minors from under 16 to under 18."""
    seventeen = born(years_before(TODAY, 18).replace(day=TODAY.day + 1))  # 18 tomorrow
    assert eligible(seventeen, found())
    eighteen = born(years_before(TODAY, 18))  # 18 today
    assert refused_on(eighteen, found()) == "survey.disability_grade"
    sixteen = born(years_before(TODAY, 16))
    assert eligible(sixteen, found())


def test_the_minor_age_is_a_policy_setting():
    sixteen = born(years_before(TODAY, 16))
    with pytest.raises(InvalidData):
        check_eligibility(
            person=sixteen, survey=found(), today=TODAY, policy=Policy(tekun_minor_age=16)
        )


def test_born_on_the_29th_of_february_is_18_on_the_1st_of_march():
    person = born(date(2008, 2, 29))
    assert eligible(person, found(), today=date(2026, 2, 28))
    assert refused_on(person, found(), today=date(2026, 3, 1)) == "survey.disability_grade"


@pytest.mark.parametrize("grade", [1, 2])
def test_a_severe_disability_at_working_age(grade):
    assert eligible(born(date(1990, 5, 1)), found(disability_grade=grade))


def test_assessed_unable_to_work_at_working_age():
    assert eligible(born(date(1990, 5, 1)), found(disability_grade=3, unable_to_work=True))
    assert eligible(born(date(1990, 5, 1)), found(unable_to_work=True))


def test_a_lighter_disability_alone_is_not_enough():
    assert refused_on(born(date(1990, 5, 1)), found(disability_grade=3)) == (
        "survey.disability_grade"
    )


def test_able_to_work_at_working_age_is_refused_naming_the_assessment():
    person = born(date(1990, 5, 1))
    assert refused_on(person, found(unable_to_work=False)) == "survey.unable_to_work"
    # A grade 2 certificate, but the survey assessed them able to work: the assessment stands.
    assert refused_on(person, found(disability_grade=2, unable_to_work=False)) == (
        "survey.unable_to_work"
    )


def test_age_is_incapacity_whatever_the_assessment():
    """《特困人员认定办法》Art. 5: the elderly and minors count as unable to work."""
    assert eligible(born(date(1950, 1, 1)), found(unable_to_work=False))
    assert eligible(born(date(2015, 1, 1)), found(unable_to_work=False))


def test_nothing_recorded_about_a_working_age_applicant_names_the_disability_grade():
    with pytest.raises(InvalidData) as refused:
        check_eligibility(person=born(date(1990, 5, 1)), survey=found(), today=TODAY)
    assert refused.value.field == "survey.disability_grade"
    assert "reopen" in refused.value.message


# ---- and: no income, no one able to support them ---------------------------------------------


@pytest.mark.parametrize("field", ["has_income", "supporter_able"])
def test_income_or_an_able_supporter_is_refused(field):
    elderly = born(date(1950, 1, 1))
    assert refused_on(elderly, found(**{field: True})) == f"survey.{field}"


@pytest.mark.parametrize("field", ["has_income", "supporter_able"])
def test_a_fact_the_survey_did_not_record_is_missing_not_assumed(field):
    elderly = born(date(1950, 1, 1))
    with pytest.raises(InvalidData) as refused:
        check_eligibility(person=elderly, survey=found(**{field: None}), today=TODAY)
    assert refused.value.field == f"survey.{field}" and "did not record" in refused.value.message


def test_no_survey_is_refused_naming_it():
    assert refused_on(born(date(1950, 1, 1)), None) == "survey"


@pytest.mark.parametrize(("facts", "field"), [({"disability_grade": 5}, "disability_grade"),
                                              ({"self_care": "some"}, "self_care")])  # fmt: skip
def test_a_survey_fact_out_of_its_values_is_refused(facts, field):
    with pytest.raises(InvalidData) as refused:
        check_eligibility(person=born(date(1950, 1, 1)), survey=found(**facts), today=TODAY)
    assert refused.value.field == field


# ---- care at the decision --------------------------------------------------------------------


def approval(**care) -> DecisionRecord:
    return DecisionRecord(actor=OFFICER, outcome="approve", reasons="符合特困条件", **care)


@pytest.mark.parametrize(
    ("care", "field"),
    [
        ({}, "care_form"),
        ({"care_form": "at_home", "self_care": "full"}, "care_form"),
        ({"care_form": "dispersed"}, "self_care"),
        ({"care_form": "centralised", "self_care": "none"}, "institution"),
        (
            {"care_form": "dispersed", "self_care": "full", "institution": INSTITUTION},
            "institution",
        ),
        (
            {
                "care_form": "centralised",
                "self_care": "none",
                "institution": replace(
                    INSTITUTION, account=replace(INSTITUTION.account, holder="张三")
                ),
            },
            "institution.bank_account",
        ),
    ],
)
def test_an_approval_without_its_care_is_refused_naming_the_field(care, field):
    with pytest.raises(InvalidData) as refused:
        check_care(approval(**care), survey=found())
    assert refused.value.field == field


def test_self_care_defaults_to_the_surveys():
    check_care(approval(care_form="dispersed"), survey=found(self_care="partial"))


# ---- the district's decision on a 特困 application ------------------------------------------


def tekun_at_decision(*, birth: str = "19500101", **facts) -> Application:
    """A publicised 特困 approval before the district, its survey as ``facts`` say."""
    case = at_decision(
        assistance_type=AssistanceType.tekun,
        household=[],
        applicant=replace(start().applicant, id_number=id_number(birth)),
        bank_account=BankAccount(bank="齐商银行", account_no="6223000011112222", holder="张三"),
    )
    case.survey = found(**facts)
    return case


def test_the_decision_checks_eligibility_naming_the_surveys_field():
    case = tekun_at_decision(birth="19900101")
    with pytest.raises(InvalidData) as refused:
        case.check_decision(approval(care_form="dispersed", self_care="full"), now=DECIDED)
    assert refused.value.field == "survey.disability_grade"
    # As replayed for an approval made before patch tekun-eligibility: not checked.
    case.check_decision(approval(), now=DECIDED, tekun=False)
    # A refusal needs no eligibility.
    case.check_decision(
        DecisionRecord(actor=OFFICER, outcome="refuse", reasons="不符合"), now=DECIDED
    )


def test_a_centralised_approval_pays_the_institution_for_the_person():
    case = tekun_at_decision(self_care="none")
    decision = approval(care_form="centralised", institution=INSTITUTION)
    case.check_decision(decision, now=DECIDED)
    case.decide(decision, now=DECIDED)
    view = case.view
    assert view.stage == Stage.approved and view.monthly_amount == Decimal("1620.00")
    assert (view.care_form, view.self_care, view.institution) == (
        "centralised", "none", INSTITUTION.name,
    )  # fmt: skip
    assert case.account == INSTITUTION.account and view.bank_account == "****0001"
    assert case.payee == Person(INSTITUTION.name, case.start.applicant.id_number)
    # A corrected account is the institution's, never a family member's.
    family = BankAccountRecord(actor=ASSISTANT, account=case.start.bank_account)
    case.view.awaiting_bank_account = True
    with pytest.raises(InvalidData) as refused:
        case.check_bank_account(family)
    assert refused.value.field == "holder"
    corrected = replace(INSTITUTION.account, account_no="6217000099990002")
    case.check_bank_account(BankAccountRecord(actor=ASSISTANT, account=corrected))


def test_a_dispersed_approval_pays_the_persons_own_account():
    case = tekun_at_decision(self_care="partial")
    decision = approval(care_form="dispersed")
    case.check_decision(decision, now=DECIDED)
    case.decide(decision, now=DECIDED)
    assert (case.view.care_form, case.view.self_care, case.view.institution) == (
        "dispersed", "partial", None,
    )  # fmt: skip
    assert case.account == case.start.bank_account and case.payee.name == "张三"


def test_only_a_tekun_approval_names_a_care_form():
    dibao = at_decision()
    with pytest.raises(InvalidData) as refused:
        dibao.check_decision(approval(care_form="dispersed", self_care="full"), now=DECIDED)
    assert refused.value.field == "care_form"
    tekun = tekun_at_decision()
    with pytest.raises(InvalidData) as refused:
        tekun.check_decision(
            DecisionRecord(actor=OFFICER, outcome="refuse", reasons="x", self_care="full"),
            now=DECIDED,
        )
    assert refused.value.field == "self_care"


# ---- the centralised-care share (集中供养率) -------------------------------------------------


def test_the_centralised_share_counts_partial_and_no_self_care_against_the_target():
    facts = [
        CareFacts("370305001", "centralised", "none", 3),
        CareFacts("370305001", "dispersed", "partial", 2),
        CareFacts("370305001", "dispersed", "full", 5),  # needs no care: not counted
        CareFacts("370305002", "centralised", "partial", 1),
        CareFacts("370305002", "dispersed", "none", 1),
        CareFacts("370305002", None, None, 4),  # registered before self-care was recorded
        CareFacts("370305003", "dispersed", "full", 1),
    ]
    section = centralised_care(facts, target=Decimal("0.6"), names={"370305001": "闻韶街道"})
    a, b, c = section.rows
    assert (a.township_name, a.recipients, a.needing_care, a.centralised) == ("闻韶街道", 10, 5, 3)
    assert (a.centralised_share, a.meets_target) == (0.6, True)  # exactly 60 % meets it
    assert (b.needing_care, b.centralised_share, b.meets_target, b.unassessed) == (2, 0.5, False, 4)
    assert (c.centralised_share, c.meets_target) == (None, None)
    total = section.total
    assert (total.recipients, total.needing_care, total.centralised) == (17, 7, 4)
    assert (total.centralised_share, total.meets_target) == (0.5714, False)
