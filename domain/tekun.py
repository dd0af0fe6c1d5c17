"""特困人员救助供养 (extreme poverty support): who is eligible, and how they are cared for.

Eligibility (《特困人员认定办法》Art. 4–6, the seed's §2 extending minors to 18): the person is
60 or older, or under 18, or severely disabled (grade 1–2, or assessed unable to work); AND
has no capacity to work, no source of income, and no one legally obliged to support them who
is able to. Age counts as incapacity (Art. 5), so an elderly person or a minor is not refused
for an assessment that they could work. The household survey records what the rule looks at
(``domain.cases.SurveyRecord``); a fact it did not record is named as missing, never assumed.

Care (供养形式): ``dispersed`` (分散供养, paid to the person's own account) or ``centralised``
(集中供养, paid to the care institution's account, named at the district's decision); and the
person's self-care ability (生活自理能力), which the seed's target of 60 % in centralised care
for those with partial or no self-care is counted on (``domain.compliance``).

Pure: the district's decision (``domain.application``) and a periodic review call the same
``check_eligibility``.
"""

from datetime import date
from typing import Literal

from domain.cases import BankAccount, DecisionRecord, Person, SurveyRecord
from domain.errors import InvalidData
from domain.identity import InvalidIdentity, age_on
from domain.policy import Policy

CareForm = Literal["dispersed", "centralised"]
SelfCare = Literal["full", "partial", "none"]
CARE_FORMS: tuple[str, ...] = ("dispersed", "centralised")
SELF_CARE: tuple[str, ...] = ("full", "partial", "none")
NEEDING_CARE: tuple[str, ...] = ("partial", "none")
"""半失能 and 失能: the self-care abilities the centralised-care target counts."""
DISABILITY_GRADES = (1, 2, 3, 4)
SEVERE_GRADES = (1, 2)
REOPEN_HINT = "; a supervisor can reopen the case to survey to record it"


def check_eligibility(
    *, person: Person, survey: SurveyRecord | None, today: date, policy: Policy | None = None
) -> None:
    """Whether ``person`` is eligible for 特困 on ``today`` by what ``survey`` found; raises
    ``InvalidData`` naming the first fact that is missing or fails (``survey.<field>``)."""
    policy = policy or Policy()
    if survey is None:
        raise InvalidData("survey", "特困 eligibility needs the household survey (入户调查)")
    check_survey_facts(survey)
    try:
        age = age_on(person.id_number, today)
    except InvalidIdentity as wrong:
        raise InvalidData("applicant.id_number", str(wrong)) from None
    by_age = age >= policy.tekun_elderly_age or age < policy.tekun_minor_age
    severe = survey.disability_grade in SEVERE_GRADES or survey.unable_to_work is True
    if not by_age and not severe:
        ages = f"{policy.tekun_elderly_age} or older or under {policy.tekun_minor_age}"
        if survey.unable_to_work is False:
            raise InvalidData(
                "survey.unable_to_work",
                f"the applicant is {age} and was assessed able to work: 特困 covers people "
                f"{ages}, or severely disabled (grade 1–2) or unable to work",
            )
        if survey.disability_grade is None and survey.unable_to_work is None:
            raise InvalidData(
                "survey.disability_grade",
                f"the applicant is {age}: 特困 covers people {ages}, or severely disabled "
                "(grade 1–2) or unable to work, and the survey recorded neither a disability "
                "grade nor an assessment of the capacity to work" + REOPEN_HINT,
            )
        raise InvalidData(
            "survey.disability_grade",
            f"the applicant is {age} with a grade {survey.disability_grade} disability: 特困 "
            f"covers people {ages}, or severely disabled (grade 1–2) or unable to work",
        )
    if not by_age and survey.unable_to_work is False:
        raise InvalidData(
            "survey.unable_to_work",
            "the survey assessed the applicant able to work: 特困 needs no capacity to work",
        )
    _require_none(survey.has_income, "has_income", "a source of income", "no source of income")
    _require_none(
        survey.supporter_able,
        "supporter_able",
        "someone legally obliged to support them who is able to (法定义务人有履行能力)",
        "no one legally obliged to support them who is able to",
    )


def _require_none(found: bool | None, field: str, what: str, needed: str) -> None:
    if found is None:
        raise InvalidData(
            f"survey.{field}", f"the survey did not record whether there is {what}" + REOPEN_HINT
        )
    if found:
        raise InvalidData(f"survey.{field}", f"the survey found {what}: 特困 needs {needed}")


def check_survey_facts(survey: SurveyRecord) -> None:
    """The 特困 facts a survey records, each one of its allowed values when given."""
    if survey.disability_grade is not None and survey.disability_grade not in DISABILITY_GRADES:
        raise InvalidData("disability_grade", "a disability grade is 1, 2, 3 or 4")
    if survey.self_care is not None and survey.self_care not in SELF_CARE:
        raise InvalidData("self_care", "must be 'full', 'partial' or 'none'")


def check_care(decision: DecisionRecord, *, survey: SurveyRecord | None) -> None:
    """A 特困 approval names its care form and the person's self-care ability (the survey's,
    if the decision does not), and for centralised care the institution, whose own account
    is paid."""
    if decision.care_form not in CARE_FORMS:
        raise InvalidData(
            "care_form",
            "a 特困 approval names the care form: 'dispersed' (分散供养) or 'centralised' (集中供养)",
        )
    if self_care_of(decision, survey) not in SELF_CARE:
        raise InvalidData(
            "self_care",
            "a 特困 approval names the person's self-care ability: 'full', 'partial' or 'none'",
        )
    institution = decision.institution
    if decision.care_form == "dispersed":
        if institution is not None:
            raise InvalidData(
                "institution", "dispersed care (分散供养) is paid to the person: no institution"
            )
        return
    if institution is None:
        raise InvalidData(
            "institution",
            "centralised care (集中供养) names the care institution and its bank account",
        )
    if not institution.name.strip():
        raise InvalidData("institution.name", "name the care institution")
    if institution.account.holder.strip() != institution.name.strip():
        raise InvalidData(
            "institution.bank_account", "the institution is paid into an account it holds"
        )


def check_no_care(decision: DecisionRecord) -> None:
    """Only a 特困 approval names a care form."""
    for field in ("care_form", "self_care", "institution"):
        if getattr(decision, field) is not None:
            raise InvalidData(field, "only a 特困 approval names the care form and self-care")


def self_care_of(decision: DecisionRecord, survey: SurveyRecord | None) -> str | None:
    """The self-care ability the decision names, or else the survey's."""
    return decision.self_care or (survey.self_care if survey else None)


def institution_payee(institution: str, person: Person) -> Person:
    """集中供养: the institution is the payee, for the person it cares for (the transfer carries
    the person's ID number: the institution is not a member of the household)."""
    return Person(name=institution, id_number=person.id_number)


def check_institution_holder(
    account: BankAccount, *, institution: str, field: str = "holder"
) -> None:
    """A centralised-care account is the institution's (the payment system pays its holder)."""
    if account.holder.strip() != institution.strip():
        raise InvalidData(field, f"in centralised care the account is held by {institution}")
