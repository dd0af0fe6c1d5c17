"""A referral's deadline on the time-skipping server: the township's caseworkers are reminded
before it, a referral left without an outcome past it is recorded overdue, notified, listed for
supervisors and counted late by the auditor; one given its outcome in time rings nothing."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from domain.calendar import local_date
from domain.cases import Actor, Role
from domain.referrals import OutcomeRecord
from domain.supervision import Reason
from services.compliance import build_report
from services.referrals import end_deadline
from store.db import session_scope
from store.referrals import Family, Filing, file_referral, record_outcome
from store.supervision import referral_problems
from store.tables import ReferralRecord, StaffNotification
from tests.helpers.actors import OFFICER, SUPERVISOR, assistant_of
from tests.helpers.people import id_number, phone
from tests.helpers.stack import RING
from worker import create_worker
from workflows.client import referral_workflow_id, start_referral
from workflows.referral import ReferralWorkflow

LIAISON = Actor("u-yb", "医保联络员", Role.department_liaison, "370305", "medical_insurance")
VILLAGE = "370305001001"


@pytest.fixture
async def running(time_env, settings):
    worker, external = create_worker(time_env.client, settings)
    async with worker:
        yield time_env, settings
    await external.close()


async def filed(env, settings) -> str:
    """A referral filed now (the server's clock), its deadline started: its number."""
    now = await env.get_current_time()
    family = Family("孙大病", id_number("19700505"), phone())
    filing = Filing("medical_insurance", "major_illness", family, VILLAGE, "住院自付")
    with session_scope(settings.database_url, writes=True) as session:
        made = file_referral(session, filing=filing, actor=LIAISON, now=now,
                             policy=settings.policy, ring=RING)  # fmt: skip
        number, start = made.row.referral_no, made.start
    await start_referral(env.client, start, task_queue=settings.task_queue)
    return number


def notices(url: str, number: str) -> list[str]:
    with session_scope(url) as session:
        return sorted(
            session.exec(
                select(StaffNotification.kind).where(StaffNotification.case_no == number)
            ).all()
        )


async def test_an_unverified_referral_is_reminded_then_recorded_overdue_and_seen(running):
    env, settings = running
    url = settings.database_url
    number = await filed(env, settings)
    handle = env.client.get_workflow_handle(referral_workflow_id(number))
    with session_scope(url) as session:
        verify_by = session.get(ReferralRecord, number).verify_by
    received = local_date(await env.get_current_time())

    await env.sleep(timedelta(days=(verify_by - received).days - 1))  # reminded, not yet due
    assert notices(url, number) == ["referral_due_soon"]
    with session_scope(url) as session:
        assert session.get(ReferralRecord, number).overdue is False

    await env.sleep(timedelta(days=3))  # past the breach
    assert await handle.result() == "overdue"
    now = await env.get_current_time()
    assert local_date(now) > verify_by
    assert notices(url, number) == ["referral_due_soon", "referral_overdue"]
    with session_scope(url) as session:
        assert session.get(ReferralRecord, number).overdue is True
        stuck = referral_problems(session, jurisdiction=SUPERVISOR.jurisdiction, township=None,
                                  kind=None, today=local_date(now))  # fmt: skip
        report = build_report(
            session, user=OFFICER, first=received - timedelta(days=1), last=local_date(now),
            now=now, policy=settings.policy, kind="referral",
        )  # fmt: skip
    assert [(s.case_no, s.reason, s.kind) for s in stuck] == [
        (number, Reason.referral_overdue, "referral")
    ]
    total = report.referrals.total
    assert (total.received, total.on_time, total.outstanding, total.outstanding_late) == (
        1,
        0,
        1,
        1,
    )
    assert [r.township for r in report.referrals.rows] == ["370305001"]
    assert report.applications is None


async def test_a_referral_given_its_outcome_in_time_rings_nothing(running):
    env, settings = running
    url = settings.database_url
    number = await filed(env, settings)
    record = OutcomeRecord(actor=assistant_of("370305001"), outcome="not_eligible",
                           reasons="家庭收入高于标准")  # fmt: skip
    with session_scope(url, writes=True) as session:
        record_outcome(session, referral_no=number, record=record, at=datetime.now(UTC))
    await end_deadline(env.client, number, "not_eligible")
    handle = env.client.get_workflow_handle(referral_workflow_id(number))
    assert await handle.result() == "closed"
    assert await handle.query(ReferralWorkflow.fired) == []
    assert notices(url, number) == []
    with session_scope(url) as session:
        row = session.get(ReferralRecord, number)
        assert (row.status, row.overdue, row.outcome) == ("closed", False, "not_eligible")


async def test_a_lost_signal_is_found_in_the_records_when_the_reminder_rings(running):
    env, settings = running
    url = settings.database_url
    number = await filed(env, settings)
    record = OutcomeRecord(actor=assistant_of("370305001"), outcome="referred_elsewhere",
                           reasons="转残联", referred_to="disabled_persons")  # fmt: skip
    with session_scope(url, writes=True) as session:  # written, and the workflow never told
        record_outcome(session, referral_no=number, record=record, at=datetime.now(UTC))
    handle = env.client.get_workflow_handle(referral_workflow_id(number))
    await env.sleep(timedelta(days=20))  # past the reminder's moment
    assert await handle.result() == "closed"
    assert notices(url, number) == []
