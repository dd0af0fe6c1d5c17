"""The rules of a review of a recipient household (``domain.reviews``), without Temporal: its
deadlines on the holiday calendar, its stages in order, who may take each step, a reported
change, 特困 checked again, the timed reminder and breach."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.benefits import BenefitDecision
from domain.calendar import WorkingCalendar
from domain.cases import Applicant, SurveyRecord, VerificationReport
from domain.errors import InvalidData, NotPermitted, WrongStage
from domain.months import Month
from domain.policy import Policy
from domain.recipients import next_review_due, register
from domain.reviews import (
    Event,
    ReportedChange,
    Review,
    ReviewStage,
    ReviewStart,
    opening_horizon,
    review_dates,
)
from store.calendar import packaged_years
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.people import id_number

CALENDAR = WorkingCalendar.of(packaged_years().values())
OPENED = datetime(2026, 9, 24, 2, tzinfo=UTC)  # a Thursday, before the National Day week
APPLICANT = Applicant(name="张三", id_number=id_number("19500101"), phone="13700000000")


def opened(assistance_type: str = "dibao", *, size: int = 2, due: date | None = None) -> Review:
    household, _ = register(
        recipient_no="370305-DB-2026-000001", case_no="370305-2026-000001",
        assistance_type=assistance_type, township="370305001", village="370305001001",
        applicant=APPLICANT, household_size=size, amount=Decimal("1000.00"), account="****0001",
        approved_by=OFFICER, approved_at=datetime(2026, 3, 2, 2, tzinfo=UTC), area="urban",
    )  # fmt: skip
    survey_due, decision_due, reminder = review_dates(
        opened_on=OPENED.date(), due=due, policy=Policy(), calendar=CALENDAR
    )
    return Review.opened(
        ReviewStart(
            review_no="370305-DB-2026-000001-R01", recipient=household, applicant=APPLICANT,
            household=[], kind="out_of_cycle", reason="抽查", opened_by=ASSISTANT,
            opened_at=OPENED, survey_due=survey_due, decision_due=decision_due,
            reminder_on=reminder,
        )
    )  # fmt: skip


def surveyed(review: Review, **facts) -> None:
    survey = SurveyRecord(ASSISTANT, ["李协理", "周干事"], OPENED.date(), "无变化",
                          Decimal("400"), **facts)  # fmt: skip
    review.check_survey(survey, today=OPENED.date())
    review.record_survey(survey, now=OPENED)
    report = VerificationReport("rp-1", Decimal("400"), Decimal(0), 0, 0)
    review.receive_verification(report, now=OPENED)


def test_deadlines_count_working_days_on_the_holiday_calendar():
    survey_due, decision_due, reminder = review_dates(
        opened_on=date(2026, 9, 24), due=None, policy=Policy(), calendar=CALENDAR
    )
    # 10 and 20 working days after 24 September, the National Day week (1–8 October 2026,
    # with its make-up Saturday, 10 October) not counted.
    assert survey_due == CALENDAR.add_working_days(date(2026, 9, 24), 10)[0]
    assert decision_due == CALENDAR.add_working_days(date(2026, 9, 24), 20)[0]
    assert survey_due > date(2026, 10, 8)
    assert CALENDAR.working_days_between(reminder, decision_due) == 3
    # A periodic review is due on its date; the reminder never falls before the opening.
    _, due, reminder = review_dates(
        opened_on=date(2026, 9, 24), due=date(2026, 9, 25), policy=Policy(), calendar=CALENDAR
    )
    assert (due, reminder) == (date(2026, 9, 25), date(2026, 9, 24))
    assert (
        opening_horizon(today=date(2026, 9, 24), policy=Policy(), calendar=CALENDAR)
        == (CALENDAR.add_working_days(date(2026, 9, 24), 15)[0])
    )


def test_the_next_review_falls_a_cadence_later_on_a_day_the_month_has():
    assert next_review_due(date(2026, 8, 31), "half_yearly") == date(2027, 2, 28)
    assert next_review_due(date(2026, 3, 2), "yearly") == date(2027, 3, 2)


def test_a_review_goes_survey_proposal_decision_each_by_its_own():
    review = opened()
    assert review.view.stage == ReviewStage.survey
    proposal = BenefitDecision(ASSISTANT, "adjust", "收入增加", amount=Decimal("900"))
    with pytest.raises(WrongStage, match="survey"):
        review.check_proposal(proposal, now=OPENED)
    surveyed(review)
    assert review.view.stage == ReviewStage.proposal
    with pytest.raises(NotPermitted):
        review.check_proposal(BenefitDecision(COORDINATOR, "continue", "x"), now=OPENED)
    review.check_proposal(proposal, now=OPENED)
    review.record_proposal(proposal, now=OPENED)
    decision = BenefitDecision(OFFICER, "adjust", "收入增加", amount=Decimal("900"))
    with pytest.raises(NotPermitted):
        review.check_decision(
            BenefitDecision(ASSISTANT, "adjust", "x", amount=Decimal(1)), now=OPENED
        )
    review.check_decision(decision, now=OPENED)
    assert review.view.stage == ReviewStage.decision


def test_the_only_members_death_goes_to_the_district_to_end_the_benefit():
    review = opened(size=1)
    died = ReportedChange(COORDINATOR, "member_died", OPENED.date())
    review.check_report(died, today=OPENED.date())
    review.report_change(died, now=OPENED)
    assert review.view.stage == ReviewStage.decision and review.view.changes
    with pytest.raises(InvalidData) as kept:
        review.check_decision(BenefitDecision(OFFICER, "continue", "x"), now=OPENED)
    assert kept.value.field == "outcome"
    review.check_decision(BenefitDecision(OFFICER, "terminate", "户主死亡"), now=OPENED)
    # In a household of two, the same report waits for the survey.
    other = opened(size=2)
    other.report_change(died, now=OPENED)
    assert other.view.stage == ReviewStage.survey


def test_a_reported_change_needs_a_date_it_can_have_happened_on_and_an_income():
    review = opened()
    for change, field in (
        (ReportedChange(COORDINATOR, "income_changed", OPENED.date()), "household_income"),
        (ReportedChange(COORDINATOR, "other", OPENED.date() + timedelta(days=1)), "happened_on"),
        (ReportedChange(COORDINATOR, "won_lottery", OPENED.date()), "kind"),
    ):
        with pytest.raises(InvalidData) as refused:
            review.check_report(change, today=OPENED.date())
        assert refused.value.field == field


def test_tekun_is_checked_again_when_the_benefit_goes_on():
    review = opened("tekun")
    surveyed(review)  # the survey records nothing of what 特困 needs
    review.record_proposal(BenefitDecision(ASSISTANT, "continue", "无变化"), now=OPENED)
    with pytest.raises(InvalidData) as refused:
        review.check_decision(BenefitDecision(OFFICER, "continue", "无变化"), now=OPENED)
    assert refused.value.field.startswith("survey")
    review.check_decision(BenefitDecision(OFFICER, "terminate", "不再符合特困条件"), now=OPENED)

    eligible = opened("tekun")
    surveyed(eligible, unable_to_work=True, has_income=False, supporter_able=False)
    eligible.record_proposal(BenefitDecision(ASSISTANT, "continue", "无变化"), now=OPENED)
    eligible.check_decision(BenefitDecision(OFFICER, "continue", "无变化"), now=OPENED)


def test_staff_are_reminded_before_the_due_date_and_the_breach_is_recorded():
    review = opened(due=date(2026, 9, 30))
    [remind, breach] = review.events()
    assert (remind.kind, breach.kind) == (Event.review_due_soon, Event.review_overdue)
    assert remind.at < breach.at
    alert = review.fire(breach, now=breach.at)
    assert review.view.overdue and "was due on 2026-09-30" in alert.message
    surveyed(review)
    review.record_proposal(BenefitDecision(ASSISTANT, "continue", "无变化"), now=OPENED)
    review.decide(BenefitDecision(OFFICER, "continue", "无变化"), Month(2026, 10), now=OPENED)
    assert review.closed and review.events() == []
