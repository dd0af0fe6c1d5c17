"""The day's round of periodic reviews and a review's timers, on the time-skipping server: the
reviews falling due open once (one Schedule for the register, not a timer per household),
the caseworker is reminded before a review is due, and a review left undecided past its date
is recorded, notified, listed for supervisors and counted by the auditor."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from domain.calendar import local_date
from domain.contracts import ReviewRound
from domain.supervision import Reason
from services.compliance import build_report
from store.db import session_scope
from store.recipients import view_of, write_view
from store.reviews import reviews_of
from store.supervision import review_problems
from store.tables import RecipientRecord, StaffNotification
from tests.helpers.actors import OFFICER, SUPERVISOR
from tests.helpers.cases import households
from worker import create_worker
from workflows.client import review_workflow_id
from workflows.review import ReviewRoundWorkflow, ReviewWorkflow


@pytest.fixture
async def running(time_env, settings):
    worker, external = create_worker(time_env.client, settings)
    async with worker:
        yield time_env, settings
    await external.close()


def due_on(database_url: str, numbers: list[str], day: date) -> None:
    """The households' periodic reviews fall due on ``day``."""
    with session_scope(database_url, writes=True) as session:
        for number in numbers:
            household = view_of(session.get(RecipientRecord, number))
            household.review_due = day
            write_view(session, household)


async def round_of(env, settings) -> int:
    return await env.client.execute_workflow(
        ReviewRoundWorkflow.run,
        ReviewRound(),
        id=f"reviews-round-{uuid.uuid4().hex[:6]}",
        task_queue=settings.task_queue,
    )


async def test_due_reviews_open_once_and_an_undecided_one_is_seen_when_overdue(running):
    env, settings = running
    url = settings.database_url
    today = local_date(datetime.now(UTC))
    soon, later, done = households(url, 3, villages=("370305001001",))
    due_on(url, [soon], today + timedelta(days=8))
    due_on(url, [later], today + timedelta(days=200))
    due_on(url, [done], today - timedelta(days=1))  # its date passed without a review

    assert await round_of(env, settings) == 2  # the one due soon, and the late one
    assert await round_of(env, settings) == 0  # a second round opens nothing twice
    with session_scope(url) as session:
        [opened] = reviews_of(session, recipient_no=soon)
        assert reviews_of(session, recipient_no=later) == []
    assert opened.kind == "periodic" and opened.decision_due == today + timedelta(days=8)
    handle = env.client.get_workflow_handle(review_workflow_id(opened.review_no))

    await env.sleep(timedelta(days=8))  # past the reminder, before the due date ends
    with session_scope(url) as session:
        told = session.exec(
            select(StaffNotification.kind).where(StaffNotification.case_no == opened.review_no)
        ).all()
    assert told == ["review_due_soon"]
    assert (await handle.query(ReviewWorkflow.current)).overdue is False

    await env.sleep(timedelta(days=2))
    view = await handle.query(ReviewWorkflow.current)
    assert view.overdue is True and view.stage == "survey"
    now = await env.get_current_time()
    with session_scope(url) as session:
        kinds = session.exec(
            select(StaffNotification.kind).where(StaffNotification.case_no == opened.review_no)
        ).all()
        stuck = review_problems(
            session, jurisdiction=SUPERVISOR.jurisdiction, township=None, kind=None,
            today=local_date(now),
        )  # fmt: skip
        report = build_report(
            session, user=OFFICER, first=today - timedelta(days=5), last=today + timedelta(days=30), now=now,
            policy=settings.policy, kind="review",
        )  # fmt: skip
    assert sorted(kinds) == ["review_due_soon", "review_overdue"]
    assert {(s.case_no, s.reason) for s in stuck} >= {(opened.review_no, Reason.review_overdue)}
    total = report.reviews.total
    assert (total.due, total.outstanding, total.outstanding_late, total.on_time) == (2, 2, 2, 0)


async def test_a_reviews_timer_outlives_the_worker_that_set_it(time_env, settings):
    """The worker that opened the review stops; another, started later, rings its due date."""
    env = time_env
    [number] = households(settings.database_url, 1, villages=("370305001001",))
    due_on(settings.database_url, [number], local_date(datetime.now(UTC)) + timedelta(days=3))
    # No sticky queue: the time-skipping server would wait for the stopped worker's.
    worker, external = create_worker(env.client, settings, max_cached_workflows=0)
    async with worker:
        assert await round_of(env, settings) == 1
        with session_scope(settings.database_url) as session:
            [opened] = reviews_of(session, recipient_no=number)
        handle = env.client.get_workflow_handle(review_workflow_id(opened.review_no))
        await handle.query(ReviewWorkflow.current)
    await external.close()

    worker, external = create_worker(env.client, settings)
    async with worker:
        await env.sleep(timedelta(days=5))
        assert (await handle.query(ReviewWorkflow.current)).overdue is True
    await external.close()
    with session_scope(settings.database_url) as session:
        kinds = session.exec(
            select(StaffNotification.kind).where(StaffNotification.case_no == opened.review_no)
        ).all()
    assert "review_overdue" in kinds
