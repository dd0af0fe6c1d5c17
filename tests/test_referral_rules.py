"""The rules of a referral from another department (部门转介), without Temporal: whose referral
it is, what an outcome must say, its deadline and reminder on the holiday calendar, its timed
events, and how the auditor counts referrals."""

from datetime import UTC, date, datetime

import pytest

from domain.calendar import SHANGHAI, WorkingCalendar, YearCalendar
from domain.cases import Actor, Role
from domain.compliance import Period, ReferralFacts, referral_compliance
from domain.errors import InvalidData, NotPermitted, WrongStage
from domain.policy import Policy
from domain.referrals import (
    Department,
    OutcomeRecord,
    ReferralStart,
    check_outcome,
    check_situation,
    filing_department,
    referral_dates,
    referral_events,
)

LIAISON = Actor("u-yb", "医保联络员", Role.department_liaison, "370305", "medical_insurance")
OFFICER = Actor("u-do", "赵科长", Role.district_officer, "370305")
ASSISTANT = Actor("u-ta", "王助理", Role.township_assistant, "370305001")
COORDINATOR = Actor("u-vc", "李协理", Role.village_coordinator, "370305001001")

# 2026: 10 days of National Day holidays from 1 October, 9 and 10 October made working days
# (a made-up notice: the rule, not the year's real one).
NATIONAL_DAY = YearCalendar(
    year=2026,
    holidays=frozenset(date(2026, 10, d) for d in range(1, 9)),
    workdays=frozenset({date(2026, 10, 10)}),
)
CALENDAR = WorkingCalendar.of([NATIONAL_DAY])


def test_a_liaisons_referral_is_its_departments_and_an_officer_names_one():
    assert filing_department(LIAISON, None) == Department.medical_insurance
    assert filing_department(LIAISON, "medical_insurance") == Department.medical_insurance
    with pytest.raises(InvalidData) as other:
        filing_department(LIAISON, "education")
    assert other.value.field == "department"
    assert filing_department(OFFICER, "petitions") == Department.petitions
    assert filing_department(OFFICER, None) == Department.other
    with pytest.raises(InvalidData) as unknown:
        filing_department(OFFICER, "tax_office")
    assert unknown.value.field == "department"
    with pytest.raises(NotPermitted):
        filing_department(ASSISTANT, None)
    with pytest.raises(InvalidData) as situation:
        check_situation("lottery_win")
    assert situation.value.field == "situation"


def outcome(**fields) -> OutcomeRecord:
    return OutcomeRecord(**({"actor": ASSISTANT, "reasons": "入户核实"} | fields))


def check(record: OutcomeRecord, status: str = "open") -> None:
    check_outcome(record, referral_no="R1", status=status, outcome=None, linked_referral="R0")


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (outcome(outcome="application_opened"), "outcome"),
        (outcome(outcome="approved"), "outcome"),
        (outcome(outcome="not_eligible", reasons="  "), "reasons"),
        (outcome(outcome="already_assisted"), "case_no"),
        (outcome(outcome="referred_elsewhere"), "referred_to"),
        (outcome(outcome="referred_elsewhere", referred_to="tax_office"), "referred_to"),
        (outcome(outcome="not_eligible", referred_to="education"), "referred_to"),
    ],
)
def test_an_outcome_names_what_its_kind_needs(record, field):
    with pytest.raises(InvalidData) as refused:
        check(record)
    assert refused.value.field == field


def test_an_outcome_is_the_townships_and_given_once():
    check(outcome(outcome="not_eligible"))
    check(outcome(outcome="already_assisted", recipient_no="370305-DB-2026-000001"))
    check(outcome(outcome="referred_elsewhere", referred_to="education", reasons="学费"))
    with pytest.raises(NotPermitted):
        check(outcome(outcome="not_eligible", actor=COORDINATOR))
    with pytest.raises(WrongStage, match="closed"):
        check(outcome(outcome="not_eligible"), status="closed")
    with pytest.raises(WrongStage, match="follows referral R0"):
        check(outcome(outcome="not_eligible"), status="linked")


def test_the_deadline_counts_working_days_on_the_holiday_calendar():
    policy = Policy(referral_verify_working_days=10, deadline_warning_working_days=3)
    # Received on Wednesday 30 September: 8 holidays, the made working Saturday counts.
    verify_by, reminder = referral_dates(
        received_on=date(2026, 9, 30), policy=policy, calendar=CALENDAR
    )
    # Working days: 9 (Fri), 10 (Sat, made one), 12, 13, 14, 15, 16, 19, 20, 21.
    assert verify_by == date(2026, 10, 21)
    assert reminder == date(2026, 10, 19)  # 19, 20, 21 left: three working days
    ordinary, soon = referral_dates(received_on=date(2026, 6, 1), policy=policy,
                                    calendar=CALENDAR)  # fmt: skip
    assert (ordinary, soon) == (date(2026, 6, 15), date(2026, 6, 11))


def test_its_timed_events_are_a_reminder_and_the_breach_after_its_day():
    start = ReferralStart("R1", "370305001", date(2026, 6, 15), date(2026, 6, 11))
    remind, breach = referral_events(start)
    assert remind.kind == "referral_due_soon"
    assert remind.at == datetime(2026, 6, 11, 9, tzinfo=SHANGHAI)
    assert breach.kind == "referral_overdue"
    assert (
        datetime(2026, 6, 16, tzinfo=SHANGHAI)
        <= breach.at
        < datetime(2026, 6, 16, 0, 1, tzinfo=SHANGHAI)
    )
    assert breach.key == "referral_overdue:2026-06-15"


def test_the_auditor_counts_referrals_by_township_and_situation():
    now = datetime(2026, 7, 1, 4, tzinfo=UTC)
    period = Period(date(2026, 6, 1), date(2026, 6, 30), now)
    t1, t2 = "370305001", "370305002"
    facts = [
        ReferralFacts(t1, "major_illness", date(2026, 6, 1), date(2026, 6, 15), date(2026, 6, 3)),
        ReferralFacts(t1, "major_illness", date(2026, 6, 1), date(2026, 6, 15), date(2026, 6, 17)),
        ReferralFacts(t1, "major_illness", date(2026, 6, 10), date(2026, 6, 24), None),
        ReferralFacts(t2, "disaster", date(2026, 6, 22), date(2026, 7, 6), None),
        ReferralFacts(t2, "disaster", date(2026, 5, 22), date(2026, 6, 5), None),  # before
    ]
    section = referral_compliance(facts, period=period, names={t1: "闻韶街道"}, calendar=CALENDAR)
    ill, disaster = section.rows
    assert (ill.township_name, ill.situation, ill.received) == ("闻韶街道", "major_illness", 3)
    assert (ill.on_time, ill.late, ill.outstanding, ill.outstanding_late) == (1, 1, 1, 1)
    assert ill.median_working_days == 7.0  # 2 and 12 working days
    assert (disaster.received, disaster.outstanding, disaster.outstanding_late) == (1, 1, 0)
    assert disaster.median_working_days is None
    total = section.total
    assert (total.received, total.on_time, total.late, total.outstanding) == (4, 1, 1, 2)
    assert total.on_time_share == 0.25
