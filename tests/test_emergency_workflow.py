"""EmergencyWorkflow on the time-skipping test server: paid from the township's reserve within
24 hours of the request, reminders and the breach counted in hours, the follow-up (补办)
afterwards; the reserve's books and the payment system checked after each."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError

from domain.calendar import local_date
from domain.cases import (
    Applicant,
    BankAccount,
    BankAccountRecord,
    DecisionRecord,
    ReviewRecord,
    SurveyRecord,
)
from domain.emergency import (
    ApprovalRecord,
    EmergencyStage,
    ExceptionApproval,
    RejectionRecord,
)
from store import reserve
from store.db import session_scope
from store.tables import EmergencyPayout, ReserveEntry, StaffNotification
from tests.helpers.actors import APPROVER, ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.people import id_number, phone
from tests.helpers.workflows import audit, request, reserve_now, until
from worker import create_worker
from workflows.emergency import EmergencyWorkflow

TOWNSHIP = "370305001"


@pytest.fixture
async def running(time_env, settings):
    worker, external = create_worker(time_env.client, settings)
    async with worker:
        yield time_env, settings
    await external.close()


def ledger_kinds(database_url: str, case_no: str) -> list[str]:
    with session_scope(database_url) as session:
        entries = session.exec(
            select(ReserveEntry).where(ReserveEntry.case_no == case_no).order_by(ReserveEntry.id)
        ).all()
        return [e.kind for e in entries]


def transfers(simulator_url: str, case_no: str) -> list[dict]:
    return httpx.get(f"{simulator_url}/payment/transfers", params={"case_no": case_no}).json()


def notices(database_url: str, case_no: str) -> list[str]:
    with session_scope(database_url) as session:
        query = select(StaffNotification).where(StaffNotification.case_no == case_no)
        return [n.kind for n in session.exec(query.order_by(StaffNotification.at))]


async def test_approved_at_once_the_family_is_paid_well_within_24_hours(running, simulator_url):
    env, settings = running
    before = reserve_now(settings.database_url)
    handle = await request(env, settings)
    approved = await handle.execute_update(
        EmergencyWorkflow.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000"))
    )
    assert approved.stage == EmergencyStage.paying and approved.approved_by == APPROVER.user_id
    paid = await until(handle, env, lambda v: v.paid_at is not None)
    assert paid.stage == EmergencyStage.paid
    assert paid.paid_at - paid.requested_at < timedelta(minutes=5)
    assert not paid.payout_overdue
    # 10 working days after the payment for the follow-up (补办)
    assert paid.follow_up_due is not None and paid.follow_up_due > local_date(paid.paid_at)
    [payment] = paid.payments
    assert (payment.status, payment.amount, payment.account) == (
        "settled",
        Decimal("2000"),
        "****4444",
    )

    [transfer] = transfers(simulator_url, paid.case_no)
    assert (
        transfer["amount"] == "2000.00" and transfer["account"]["account_no_masked"] == "****4444"
    )
    after = reserve_now(settings.database_url)
    assert (after.balance, after.held) == (before.balance - 2000, before.held)
    assert ledger_kinds(settings.database_url, paid.case_no) == ["hold", "settle"]
    with session_scope(settings.database_url) as session:
        payouts = session.exec(
            select(EmergencyPayout).where(EmergencyPayout.case_no == paid.case_no)
        ).all()
        assert len(payouts) == 2 and {p.cause for p in payouts} == {"fire"}
    sms = httpx.get(
        f"{simulator_url}/sms/messages",
        params={"template": "emergency_paid", "phone": "13900000002"},
    ).json()
    assert any(paid.case_no in m["text"] and "2000" in m["text"] for m in sms)
    actions = [e.action for e in audit(settings.database_url, paid.case_no)]
    assert actions == ["approved", "paid"]


async def test_late_approval_is_recorded_as_a_breach_after_reminders_at_12_and_20_hours(running):
    env, settings = running
    handle = await request(env, settings)
    view = await until(handle, env, lambda v: True)
    await env.sleep(timedelta(hours=12, minutes=1))
    assert notices(settings.database_url, view.case_no) == ["payout_reminder"]
    await env.sleep(timedelta(hours=8))
    assert notices(settings.database_url, view.case_no) == ["payout_reminder"] * 2
    await env.sleep(timedelta(hours=4))
    late = await until(handle, env, lambda v: v.payout_overdue)
    assert late.stage == EmergencyStage.awaiting_approval  # a breach decides nothing
    assert notices(settings.database_url, view.case_no)[-1] == "payout_overdue"

    await handle.execute_update(
        EmergencyWorkflow.approve, ApprovalRecord(actor=OFFICER, amount=Decimal("1500"))
    )
    paid = await until(handle, env, lambda v: v.paid_at is not None)
    assert paid.payout_overdue and paid.paid_at - paid.requested_at > timedelta(hours=24)
    actions = [e.action for e in audit(settings.database_url, view.case_no)]
    assert actions[:3] == ["payout_reminder", "payout_reminder", "payout_overdue"]


async def test_who_approves_what(running):
    env, settings = running
    handle = await request(env, settings)

    async def refused(update, record) -> tuple[str, dict | None]:
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await handle.execute_update(update, record)
        cause = failure.value.cause
        return cause.type, (cause.details[0] if cause.details else None)

    over_limit = ApprovalRecord(actor=APPROVER, amount=Decimal("3000.01"))
    assert (await refused(EmergencyWorkflow.approve, over_limit))[0] == "NotPermitted"
    # the urgent band is 0.5–3 × the urban standard: ¥540–¥3,240 in 2026
    above_band = ApprovalRecord(actor=OFFICER, amount=Decimal("5000"))
    assert await refused(EmergencyWorkflow.approve, above_band) == (
        "InvalidData",
        {"field": "amount"},
    )
    for absurd in ("0", "-1", "100000000"):
        record = ApprovalRecord(actor=OFFICER, amount=Decimal(absurd))
        assert (await refused(EmergencyWorkflow.approve, record))[1] == {"field": "amount"}
    not_the_district = ExceptionApproval(actor=APPROVER, amount=Decimal("8000"), reason="重大火灾")
    assert (await refused(EmergencyWorkflow.approve_exception, not_the_district))[
        0
    ] == "NotPermitted"
    no_reason = ExceptionApproval(actor=OFFICER, amount=Decimal("8000"), reason=" ")
    assert (await refused(EmergencyWorkflow.approve_exception, no_reason))[1] == {"field": "reason"}
    assert (await handle.query(EmergencyWorkflow.current)).stage == EmergencyStage.awaiting_approval

    exception = ExceptionApproval(
        actor=OFFICER, amount=Decimal("8000"), reason="全部家当被毁，一事一议"
    )
    approved = await handle.execute_update(EmergencyWorkflow.approve_exception, exception)
    assert approved.approved_amount == Decimal("8000") and approved.exception_reason
    again = ApprovalRecord(actor=OFFICER, amount=Decimal("1000"))
    assert (await refused(EmergencyWorkflow.approve, again))[0] == "WrongStage"


async def test_a_second_payment_for_the_same_cause_within_90_days_needs_the_district(running):
    env, settings = running
    handle = await request(env, settings, recent_payout="370305-2026-000007")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            EmergencyWorkflow.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("1000"))
        )
    assert (
        refused.value.cause.type == "Conflict"
        and "370305-2026-000007" in refused.value.cause.message
    )
    exception = ExceptionApproval(
        actor=OFFICER, amount=Decimal("1000"), reason="第二次火灾，情况属实"
    )
    assert (await handle.execute_update(EmergencyWorkflow.approve_exception, exception)).stage == (
        EmergencyStage.paying
    )


async def test_a_rejected_family_is_told_why(running, simulator_url):
    env, settings = running
    family = Applicant(name="赵六", id_number=id_number(), phone=phone())
    handle = await request(env, settings, applicant=family)
    await handle.execute_update(
        EmergencyWorkflow.reject, RejectionRecord(actor=APPROVER, reasons="已由保险全额赔付")
    )
    final = await handle.result()
    assert final.stage == EmergencyStage.rejected and final.closed_at is not None
    sms = httpx.get(f"{simulator_url}/sms/messages", params={"phone": family.phone}).json()
    assert [m["template"] for m in sms] == ["emergency_rejected"]
    assert "已由保险全额赔付" in sms[0]["text"]
    assert transfers(simulator_url, final.case_no) == []


async def test_a_refused_account_releases_the_hold_and_a_corrected_one_is_paid_once(
    running, simulator_url
):
    env, settings = running
    before = reserve_now(settings.database_url)
    closed = BankAccount(bank="齐商银行", account_no="0005554444", holder="王五")
    handle = await request(env, settings, bank_account=closed)
    await handle.execute_update(
        EmergencyWorkflow.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000"))
    )
    refused = await until(handle, env, lambda v: v.stage == EmergencyStage.awaiting_account)
    assert [p.status for p in refused.payments] == ["refused"]
    assert "account_closed" in refused.payments[0].reason
    assert reserve_now(settings.database_url) == before  # the hold went back
    assert notices(settings.database_url, refused.case_no) == ["payment_refused"]

    good = BankAccount(bank="齐商银行", account_no="6223000066667777", holder="王五")
    corrected = await handle.execute_update(
        EmergencyWorkflow.record_bank_account, BankAccountRecord(actor=ASSISTANT, account=good)
    )
    assert corrected.payment_attempt == 2 and corrected.bank_account == "****7777"
    paid = await until(handle, env, lambda v: v.paid_at is not None)
    assert [p.status for p in paid.payments] == ["refused", "settled"]
    [transfer] = transfers(simulator_url, paid.case_no)
    assert transfer["account"]["account_no_masked"] == "****7777"
    after = reserve_now(settings.database_url)
    assert (after.balance, after.held) == (before.balance - 2000, before.held)
    assert ledger_kinds(settings.database_url, paid.case_no) == [
        "hold",
        "release",
        "hold",
        "settle",
    ]


async def test_without_funds_the_case_waits_and_a_top_up_pays_it(running, simulator_url):
    env, settings = running
    state = reserve_now(settings.database_url, "370305002")
    # Spend the reserve down to ¥500 with another case's hold.
    with session_scope(settings.database_url, writes=True) as session:
        reserve.hold(
            session, township="370305002", case_no="E-other", amount=state.available - 500,
            key=f"E-other:{uuid.uuid4()}", at=datetime.now(UTC),
        )  # fmt: skip
    handle = await request(env, settings, township="370305002", village="370305002001")
    approver = replace(APPROVER, jurisdiction="370305002")
    await handle.execute_update(
        EmergencyWorkflow.approve, ApprovalRecord(actor=approver, amount=Decimal("2000"))
    )
    waiting = await until(handle, env, lambda v: v.stage == EmergencyStage.awaiting_funds)
    assert waiting.waiting_for_funds_since is not None
    # The district's notice follows the records write the query saw.
    for _ in range(10):
        if found := notices(settings.database_url, waiting.case_no):
            break
        await env.sleep(timedelta(seconds=1))
    assert found == ["awaiting_funds"]
    with session_scope(settings.database_url, writes=True) as session:
        reserve.top_up(
            session, township="370305002", amount=Decimal("10000"), key=str(uuid.uuid4()),
            note="区财政补充", by=OFFICER.user_id, at=datetime.now(UTC),
        )  # fmt: skip
    # Woken by the top-up's signal, or by the case's own look at the reserve later on.
    await handle.signal(EmergencyWorkflow.funds_offered)
    paid = await until(handle, env, lambda v: v.paid_at is not None)
    assert len(transfers(simulator_url, paid.case_no)) == 1
    assert ledger_kinds(settings.database_url, paid.case_no) == ["hold", "settle"]


async def test_the_follow_up_is_due_in_working_days_and_a_family_found_ineligible_goes_to_the_district(
    running,
):
    env, settings = running
    handle = await request(env, settings)
    await handle.execute_update(
        EmergencyWorkflow.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000"))
    )
    paid = await until(handle, env, lambda v: v.paid_at is not None)
    await env.sleep(timedelta(days=20))  # more than 10 working days
    late = await until(handle, env, lambda v: v.follow_up_overdue)
    assert late.stage == EmergencyStage.paid
    assert "follow_up_overdue" in notices(settings.database_url, paid.case_no)

    today = local_date(await env.get_current_time())
    survey = SurveyRecord(
        actor=COORDINATOR, investigators=["李协理", "周干事"], visited_on=today,
        findings="火灾属实，但家中有经营收入", assessed_monthly_income=Decimal("9000"),
    )  # fmt: skip
    surveyed = await handle.execute_update(EmergencyWorkflow.record_survey, survey)
    assert surveyed.stage == EmergencyStage.follow_up
    early = DecisionRecord(actor=OFFICER, outcome="approve", reasons="x")
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(EmergencyWorkflow.confirm, early)  # the township reviews first
    review = ReviewRecord(actor=ASSISTANT, recommendation="refuse", reasons="家庭收入较高")
    reviewed = await handle.execute_update(EmergencyWorkflow.record_review, review)
    assert reviewed.found_eligible is False
    assert "follow_up_found_ineligible" in notices(settings.database_url, paid.case_no)
    confirm = DecisionRecord(actor=OFFICER, outcome="refuse", reasons="确认不符合条件，另行处理")
    closed = await handle.execute_update(EmergencyWorkflow.confirm, confirm)
    assert closed.stage == EmergencyStage.closed
    final = await handle.result()
    assert final.confirmed_at is not None and final.paid_at == paid.paid_at
