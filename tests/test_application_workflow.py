"""ApplicationWorkflow on the time-skipping test server: timers run by skipping time."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError

from domain.calendar import local_date
from domain.cases import (
    BankAccount,
    BankAccountRecord,
    DecisionRecord,
    DocumentsReceipt,
    DocumentsRequest,
    ObjectionRecord,
    ReviewRecord,
    Stage,
    SurveyRecord,
)
from store.db import session_scope
from store.tables import CaseRecord, StaffNotification
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.workflows import activity_runs, audit, start_case, survey, wait_for_stage
from worker import create_worker
from workflows.application import ApplicationWorkflow
from workflows.search import CASE_STAGE


@pytest.fixture
async def running(time_env, settings):
    worker, external = create_worker(time_env.client, settings)
    async with worker:
        yield time_env, settings
    await external.close()


async def test_a_dibao_case_runs_from_survey_to_first_payment(running, simulator_url):
    env, settings = running
    handle = await start_case(env, settings)
    await survey(handle, env, income="300")
    await wait_for_stage(handle, Stage.review, env)
    view = await handle.execute_update(
        ApplicationWorkflow.record_review,
        ReviewRecord(actor=ASSISTANT, recommendation="approve", reasons="income below the line"),
    )
    assert view.stage == Stage.notice
    # 2 persons × urban standard 1080 − 300 assessed income
    assert view.monthly_amount == Decimal("1860.00")
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    view = await handle.execute_update(
        ApplicationWorkflow.record_decision,
        DecisionRecord(actor=OFFICER, outcome="approve", reasons="meets the conditions"),
    )
    assert view.stage == Stage.approved
    final = await handle.result()
    assert final.first_payment_at is not None

    transfers = httpx.get(
        f"{simulator_url}/payment/transfers", params={"case_no": view.case_no}
    ).json()
    assert [t["amount"] for t in transfers] == ["1860.00"]
    actions = [e.action for e in audit(settings.database_url, view.case_no)]
    assert actions[:3] == [
        "survey_recorded",
        "verification_report_received",
        "survey_completed",
    ] or actions[:3] == ["verification_report_received", "survey_recorded", "survey_completed"]
    assert actions[-4:] == ["review_approve", "notice_ended", "approved", "first_payment_made"]
    with session_scope(settings.database_url) as session:
        row = session.get(CaseRecord, view.case_no)
        assert row.stage == "approved" and row.monthly_amount == Decimal("1860.00")


async def test_a_missed_decision_deadline_is_recorded_and_notified_but_decides_nothing(running):
    env, settings = running
    handle = await start_case(env, settings)
    await env.sleep(timedelta(days=40))
    view = await handle.query(ApplicationWorkflow.current)
    assert view.stage == Stage.survey
    assert view.survey_overdue and view.decision_overdue
    actions = [e.action for e in audit(settings.database_url, view.case_no)]
    assert {"survey_overdue", "decision_approaching", "decision_overdue"} <= set(actions)
    with session_scope(settings.database_url) as session:
        kinds = {
            n.kind
            for n in session.exec(
                select(StaffNotification).where(StaffNotification.case_no == view.case_no)
            )
        }
        assert kinds == {"survey_overdue", "decision_approaching", "decision_overdue"}
        assert session.get(CaseRecord, view.case_no).overdue


async def test_an_objection_sends_the_case_back_and_the_notice_starts_over(running):
    env, settings = running
    handle = await start_case(env, settings)
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    review = ReviewRecord(actor=ASSISTANT, recommendation="approve", reasons="eligible")
    first = await handle.execute_update(ApplicationWorkflow.record_review, review)
    await env.sleep(timedelta(days=3))
    view = await handle.execute_update(
        ApplicationWorkflow.record_objection,
        ObjectionRecord(actor=ASSISTANT, raised_by="neighbour", grounds="owns a shop"),
    )
    assert view.stage == Stage.survey and view.objections == 1
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    second = await handle.execute_update(ApplicationWorkflow.record_review, review)
    assert second.notice_ends_at - first.notice_ends_at >= timedelta(days=3)
    await env.sleep(timedelta(days=6))
    assert (await handle.query(ApplicationWorkflow.current)).stage == Stage.notice
    await env.sleep(timedelta(days=1, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)


async def test_a_district_approving_a_proposed_refusal_publicises_it_first(running, simulator_url):
    env, settings = running
    handle = await start_case(env, settings)
    await survey(handle, env, income="300")
    await wait_for_stage(handle, Stage.review, env)
    refuse = ReviewRecord(actor=ASSISTANT, recommendation="refuse", reasons="owns a vehicle")
    assert (
        await handle.execute_update(ApplicationWorkflow.record_review, refuse)
    ).stage == Stage.decision
    approve_it = DecisionRecord(actor=OFFICER, outcome="approve", reasons="the vehicle is scrapped")
    proposed = await handle.execute_update(ApplicationWorkflow.record_decision, approve_it)
    assert proposed.stage == Stage.notice and proposed.notice_started_at is not None
    assert proposed.decided_at is None and proposed.monthly_amount == Decimal("1860.00")
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    approved = await handle.execute_update(ApplicationWorkflow.record_decision, approve_it)
    assert approved.stage == Stage.approved
    final = await handle.result()
    assert final.first_payment_at is not None
    actions = [e.action for e in audit(settings.database_url, final.case_no)]
    assert actions[-5:] == [
        "review_refuse",
        "approval_proposed_by_district",
        "notice_ended",
        "approved",
        "first_payment_made",
    ]


async def test_a_refusal_on_income_names_the_field_of_the_request_that_was_refused(running):
    env, settings = running
    handle = await start_case(env, settings)
    await survey(handle, env, income="5000")
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(
        ApplicationWorkflow.record_review,
        ReviewRecord(actor=ASSISTANT, recommendation="refuse", reasons="income above the line"),
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            ApplicationWorkflow.record_decision,
            DecisionRecord(actor=OFFICER, outcome="approve", reasons="x"),
        )
    assert refused.value.cause.details[0] == {"field": "outcome"}
    assert "only be refused" in refused.value.cause.message


async def test_waiting_for_documents_pauses_the_decision_clock(running):
    env, settings = running
    handle = await start_case(env, settings)
    before = await handle.query(ApplicationWorkflow.current)
    paused = await handle.execute_update(
        ApplicationWorkflow.request_documents,
        DocumentsRequest(actor=ASSISTANT, documents=["medical bills"], note="bring originals"),
    )
    assert paused.stage == Stage.awaiting_documents and paused.paused_from == Stage.survey
    await env.sleep(timedelta(days=14))
    resumed = await handle.execute_update(
        ApplicationWorkflow.receive_documents, DocumentsReceipt(actor=ASSISTANT, note="all in")
    )
    assert resumed.stage == Stage.survey
    # 14 calendar days paused is 8–10 working days, depending on the weekends and holidays
    moved = (resumed.decision_due - before.decision_due).days
    assert moved >= 10, (before.decision_due, resumed.decision_due)
    assert not resumed.decision_overdue
    actions = [e.action for e in audit(settings.database_url, resumed.case_no)]
    assert "documents_requested" in actions and "documents_received" in actions


async def test_actions_at_the_wrong_stage_or_with_bad_data_are_refused_before_anything_is_written(
    running,
):
    env, settings = running
    handle = await start_case(env, settings)
    with pytest.raises(WorkflowUpdateFailedError) as wrong:
        await handle.execute_update(
            ApplicationWorkflow.record_decision,
            DecisionRecord(actor=OFFICER, outcome="approve", reasons="x"),
        )
    assert wrong.value.cause.type == "WrongStage"
    assert "stage 'survey'" in wrong.value.cause.message
    with pytest.raises(WorkflowUpdateFailedError) as bad:
        await handle.execute_update(
            ApplicationWorkflow.record_survey,
            SurveyRecord(
                actor=COORDINATOR,
                investigators=["李协理"],
                visited_on=local_date(await env.get_current_time()),
                findings="",
                assessed_monthly_income=Decimal(0),
            ),
        )
    assert bad.value.cause.type == "InvalidData"
    assert bad.value.cause.details[0] == {"field": "investigators"}
    view = await handle.query(ApplicationWorkflow.current)
    assert view.stage == Stage.survey and view.surveyed_at is None


async def approve(handle, env) -> None:
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(
        ApplicationWorkflow.record_review,
        ReviewRecord(actor=ASSISTANT, recommendation="approve", reasons="ok"),
    )
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    await handle.execute_update(
        ApplicationWorkflow.record_decision,
        DecisionRecord(actor=OFFICER, outcome="approve", reasons="ok"),
    )


async def test_a_payment_system_outage_is_retried_and_pays_once(running, simulator_url, faults):
    env, settings = running
    handle = await start_case(env, settings)
    faults(service="payment", fail_next=3, status=503)
    await approve(handle, env)
    final = await handle.result()
    assert final.first_payment_at is not None
    transfers = httpx.get(
        f"{simulator_url}/payment/transfers", params={"case_no": final.case_no}
    ).json()
    assert len(transfers) == 1
    # The three calls the outage answered failed, and the fourth paid.
    [payment] = await activity_runs(handle, "make_payment")
    assert payment.attempt == 4


async def test_a_refused_payment_is_put_before_people_and_paid_once_into_a_corrected_account(
    running, simulator_url, faults
):
    env, settings = running
    handle = await start_case(env, settings)
    closed = BankAccount(bank="齐商银行", account_no="0001112222", holder="张三")
    faults(service="payment", fail_next=1, status=422)
    await approve(handle, env)
    for _ in range(50):
        view = await handle.query(ApplicationWorkflow.current)
        if view.awaiting_bank_account:
            break
        await env.sleep(timedelta(seconds=1))
    assert view.stage == Stage.approved and view.first_payment_at is None
    with session_scope(settings.database_url) as session:
        notices = session.exec(
            select(StaffNotification).where(StaffNotification.case_no == view.case_no)
        ).all()
        assert [n.kind for n in notices] == ["payment_refused"]
        assert "corrected bank account" in notices[0].message

    # A correction to a closed account is refused too; the next one is paid.
    await handle.execute_update(
        ApplicationWorkflow.record_bank_account, BankAccountRecord(actor=ASSISTANT, account=closed)
    )
    for _ in range(50):
        view = await handle.query(ApplicationWorkflow.current)
        if view.payment_attempt == 2 and view.awaiting_bank_account:
            break
        await env.sleep(timedelta(seconds=1))
    assert view.awaiting_bank_account, view
    good = BankAccount(bank="齐商银行", account_no="6223000099998888", holder="张三")
    await handle.execute_update(
        ApplicationWorkflow.record_bank_account, BankAccountRecord(actor=ASSISTANT, account=good)
    )
    final = await handle.result()
    assert final.first_payment_at is not None and final.payment_attempt == 3
    assert final.bank_account == "****8888" and not final.awaiting_bank_account
    transfers = httpx.get(
        f"{simulator_url}/payment/transfers", params={"case_no": final.case_no}
    ).json()
    assert [t["account"]["account_no_masked"] for t in transfers] == ["****8888"]
    actions = [e.action for e in audit(settings.database_url, final.case_no)]
    assert actions.count("payment_refused") == 2 and actions[-1] == "first_payment_made"


async def test_an_approved_case_without_a_bank_account_waits_for_one(running, simulator_url):
    env, settings = running
    handle = await start_case(env, settings, bank_account=None)
    await approve(handle, env)
    for _ in range(50):
        view = await handle.query(ApplicationWorkflow.current)
        if view.awaiting_bank_account:
            break
        await env.sleep(timedelta(seconds=1))
    assert view.stage == Stage.approved and view.bank_account is None
    assert "bank_account_needed" in [e.action for e in audit(settings.database_url, view.case_no)]
    account = BankAccount(bank="齐商银行", account_no="6223000077776666", holder="张三")
    await handle.execute_update(
        ApplicationWorkflow.record_bank_account, BankAccountRecord(actor=ASSISTANT, account=account)
    )
    final = await handle.result()
    assert final.first_payment_at is not None and final.payment_attempt == 1
    transfers = httpx.get(
        f"{simulator_url}/payment/transfers", params={"case_no": final.case_no}
    ).json()
    assert len(transfers) == 1 and transfers[0]["account"]["account_no_masked"] == "****6666"


async def test_a_refusal_whose_sms_is_refused_still_waits_for_its_deadline(
    running, simulator_url, faults
):
    env, settings = running
    handle = await start_case(env, settings)
    await survey(handle, env, income="5000")
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(
        ApplicationWorkflow.record_review,
        ReviewRecord(actor=ASSISTANT, recommendation="refuse", reasons="income above the line"),
    )
    faults(service="sms", fail_next=1, status=422)
    await handle.execute_update(
        ApplicationWorkflow.record_decision,
        DecisionRecord(actor=OFFICER, outcome="refuse", reasons="income above the line"),
    )
    await env.sleep(timedelta(days=7))  # more than 3 working days
    async with asyncio.timeout(30):  # a workflow spinning on its delivered outcome never ends
        final = await handle.result()
    assert final.refusal_notified_at is None and final.refusal_notice_overdue
    actions = [e.action for e in audit(settings.database_url, final.case_no)]
    assert actions[-2:] == ["refused_notice_refused", "refusal_notice_overdue"]


async def test_a_case_started_with_its_search_attributes_upserts_none_until_it_moves(running):
    """The API gives the start the case's search attributes (``application_at_start``): the
    workflow's first task then makes no upsert; a case started without them still gets them."""
    env, settings = running

    async def first_upserts(*, indexed: bool) -> list:
        handle = await start_case(env, settings, indexed=indexed)
        await handle.query(ApplicationWorkflow.current)  # its first task is done
        history = await handle.fetch_history()
        described = await handle.describe()
        assert described.typed_search_attributes.get(CASE_STAGE) == "survey"
        return [
            e
            for e in history.events
            if e.HasField("upsert_workflow_search_attributes_event_attributes")
        ]

    assert await first_upserts(indexed=True) == []
    assert len(await first_upserts(indexed=False)) == 1
