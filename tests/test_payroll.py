"""The monthly payroll through the real stack: households in the register (entered as an
approval enters them), the payroll workflow and its township children on the dev server, the
bank's batch interface and the SMS platform of the simulators. Each test has a database of
its own; the bank is shared, so each test's households are numbered afresh."""

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlmodel import select

from domain.cases import (
    Actor,
    BankAccount,
    Role,
)
from domain.contracts import PayrollMonth
from domain.errors import WrongStage
from domain.months import Month
from domain.payroll import ItemStatus, payroll_workflow_id, reissue_workflow_id
from store.db import session_scope
from store.payroll import reconcile_batch
from store.recipients import record_bank_account
from store.tables import PayrollBatch, PayrollItem, PayrollRecord, StaffNotification, TownshipRow
from tests.helpers.actors import ASSISTANT, OFFICER, SUPERVISOR
from tests.helpers.api import application, to_decision, wait_for
from tests.helpers.cases import households
from tests.helpers.stack import RING
from tests.helpers.workflows import pay_month
from workflows.payroll import PayrollWorkflow, ReissueWorkflow

TOWNSHIPS = {"370305001": "370305001001", "370305002": "370305002001", "370305100": "370305100201"}
HOME = "370305001"
AUDITOR = Actor("u-auditor", "孙审计", Role.auditor, "370305")


async def test_next_months_payroll_pays_each_household_once_and_reconciles_with_the_bank(
    own_stack, dev_env, simulator_url
):
    stack = own_stack
    numbers = households(stack.settings.database_url, 12, closed=2)
    month = Month.at(datetime.now(UTC)).plus(1)
    # Not the month's own id (``payroll-<month>``): that one is the API's test's, below.
    run = dict(
        id=f"{payroll_workflow_id(month)}-{uuid.uuid4().hex[:6]}",
        task_queue=stack.settings.task_queue,
    )
    await dev_env.client.execute_workflow(
        PayrollWorkflow.run,
        PayrollMonth(str(month), OFFICER.user_id, batch_size=3, townships_at_once=2),
        **run,
    )

    with session_scope(stack.settings.database_url) as session:
        payroll = session.get(PayrollRecord, str(month))
        assert payroll.status == "completed" and payroll.started_by == OFFICER.user_id
        items = session.exec(select(PayrollItem).where(PayrollItem.month == str(month))).all()
        batches = session.exec(select(PayrollBatch).where(PayrollBatch.month == str(month))).all()
        notices = session.exec(
            select(StaffNotification).where(StaffNotification.kind == "payroll_refused")
        ).all()
    assert sorted(i.recipient_no for i in items) == sorted(numbers)
    by_status = {s: [i for i in items if i.status == s] for s in ItemStatus}
    assert len(by_status[ItemStatus.paid]) == 10 and len(by_status[ItemStatus.refused]) == 2
    assert all(i.notified for i in items)
    sent_to = {numbers[n]: f"****{n:04d}" for n in range(12)}  # each account's last four
    assert all(i.account == sent_to[i.recipient_no] for i in items)
    assert all(i.reason.startswith("account_closed") for i in by_status[ItemStatus.refused])
    assert sorted(n.case_no for n in notices) == sorted(numbers[:2])
    # Four households a township, in batches of at most three: two batches each.
    assert sorted((b.township, b.items) for b in batches) == sorted(
        (t, n) for t in TOWNSHIPS for n in (3, 1)
    )
    assert all(b.reconciled_at and b.bank_paid_fen == b.items_paid_fen for b in batches)

    async with httpx.AsyncClient(base_url=simulator_url) as bank:
        for item in items:
            paid = (
                await bank.get("/payment/transfers", params={"recipient_no": item.recipient_no})
            ).json()
            assert [(t["month"], t["amount"]) for t in paid] == (
                [(str(month), f"{item.amount:.2f}")] if item.status == ItemStatus.paid else []
            )
        texts = (await bank.get("/sms/messages", params={"template": "monthly_paid"})).json()
        mine = [t for t in texts if any(n in t["text"] for n in numbers)]
        assert len(mine) == 10 and f"{month.year}年{month.month}月" in mine[0]["text"]

    # No history grows with the register: the month's holds a few events per township, a
    # township's a few per batch (the households are rows, never events).
    parent = await dev_env.client.get_workflow_handle(run["id"]).fetch_history()
    children = [
        e
        for e in parent.events
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
    ]
    with session_scope(stack.settings.database_url) as session:
        assert len(children) == len(session.exec(select(TownshipRow)).all())
    assert len(parent.events) <= 12 + 8 * len(children)
    for township in TOWNSHIPS:
        child = await dev_env.client.get_workflow_handle(
            f"{payroll_workflow_id(month)}-{township}"
        ).fetch_history()
        assert len(child.events) <= 12 + 4 * 6 * 2  # two batches of four activities each


async def test_the_month_of_approval_is_paid_by_the_approval_not_again_by_the_payroll(
    own_stack, dev_env
):
    stack = own_stack
    households(stack.settings.database_url, 3)
    month = Month.at(datetime.now(UTC))
    await pay_month(dev_env.client, month, task_queue=stack.settings.task_queue)
    with session_scope(stack.settings.database_url) as session:
        items = session.exec(select(PayrollItem).where(PayrollItem.month == str(month))).all()
        batches = session.exec(select(PayrollBatch)).all()
    assert len(items) == 3 and all(i.key.endswith(":first-payment") for i in items)
    assert batches == []


async def test_a_refused_month_is_reissued_once_into_the_corrected_account(
    own_stack, dev_env, simulator_url
):
    stack = own_stack
    url = stack.settings.database_url
    refused, *_ = households(url, 3, closed=1)
    month = Month.at(datetime.now(UTC)).plus(1)
    queue = stack.settings.task_queue
    await pay_month(dev_env.client, month, task_queue=queue)
    corrected = BankAccount(bank="齐商银行", account_no="6217000000000099", holder="户主0")
    with session_scope(url, writes=True) as session:
        view, [reissue] = record_bank_account(
            session, recipient_no=refused, account=corrected, actor=ASSISTANT,
            at=datetime.now(UTC), ring=RING,
        )  # fmt: skip
    assert view.bank_account == "****0099" and reissue.month == str(month)
    with pytest.raises(WrongStage, match="under way"), session_scope(url, writes=True) as session:
        record_bank_account(
            session, recipient_no=refused, account=corrected, actor=ASSISTANT,
            at=datetime.now(UTC), ring=RING,
        )  # fmt: skip

    for attempt in ("", "-again"):  # a second run finds it decided and pays nothing
        await dev_env.client.execute_workflow(
            ReissueWorkflow.run, reissue, id=reissue_workflow_id(reissue.key) + attempt,
            task_queue=queue,
        )  # fmt: skip
    with session_scope(url) as session:
        item = session.get(PayrollItem, (refused, str(month)))
    assert item.status == ItemStatus.paid and item.account == "****0099"
    async with httpx.AsyncClient(base_url=simulator_url) as bank:
        paid = (await bank.get("/payment/transfers", params={"recipient_no": refused})).json()
        assert [(t["month"], t["idempotency_key"]) for t in paid] == [(str(month), reissue.key)]
        assert paid[0]["transfer_id"] == item.transfer_id
        texts = (await bank.get("/sms/messages", params={"template": "monthly_paid"})).json()
        assert len([t for t in texts if refused in t["text"]]) == 1


# ---- over HTTP: the register and the payroll as their users see them --------------------------


def assistant_of(township: str) -> Actor:
    return Actor(f"u-assistant-{township}", "陈助理", Role.township_assistant, township)


async def test_a_district_officer_runs_next_months_payroll_and_reads_it_by_township(
    own_stack, simulator_url
):
    stack = own_stack
    numbers = households(stack.settings.database_url, 6, closed=1)
    now = datetime.now(UTC)
    month = Month.at(now).plus(1)
    async with stack.client(OFFICER) as officer, stack.client(assistant_of(HOME)) as assistant:
        for bad in ("2026-13", "1900-05", "12/2026", str(Month.at(now).plus(2))):
            refused = await officer.post("/payrolls", json={"month": bad}, headers=key())
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"] == ["body", "month"]
        refused = await assistant.post("/payrolls", json={"month": str(month)}, headers=key())
        assert refused.status_code == 403

        started = await officer.post("/payrolls", json={"month": str(month)}, headers=key())
        assert started.status_code == 202, started.text
        assert started.json()["month"] == str(month)
        assert started.json()["status"] == "running"
        again = await officer.post("/payrolls", json={"month": str(month)}, headers=key())
        assert again.status_code == 409 and str(month) in again.json()["detail"]

        async def completed() -> dict:
            return (await officer.get(f"/payrolls/{month}")).json()

        done = await eventually(completed, lambda p: p.get("status") == "completed")
        assert done["reconciled"] is True
        shares = {t["township"]: t for t in done["townships"]}
        assert set(shares) == set(TOWNSHIPS)
        assert sum(t["paid"]["count"] for t in shares.values()) == 5
        assert sum(t["refused"]["count"] for t in shares.values()) == 1
        assert all(t["difference"] == "0.00" for t in shares.values())
        months = (await officer.get("/payrolls")).json()
        assert [p["month"] for p in months["items"]] == [str(month)]

        # A township's assistant reads its own township's share only.
        mine = (await assistant.get(f"/payrolls/{month}")).json()
        assert [t["township"] for t in mine["townships"]] == [HOME]
        listed = (await assistant.get(f"/payrolls/{month}/items")).json()
        assert {i["township"] for i in listed["items"]} == {HOME} and listed["total"] == 2
        as_csv = await officer.get(
            f"/payrolls/{month}/items", params={"status": "refused"},
            headers={"Accept": "text/csv"},
        )  # fmt: skip
        assert as_csv.content.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
        assert rows[0][0] == "recipient_no [救助档案号]" and len(rows) == 2
        assert rows[1][0] == numbers[0] and rows[1][6] == "refused"
        assert (await officer.get("/payrolls/2026-13")).status_code == 422
        assert (await officer.get(f"/payrolls/{month.plus(-30)}")).status_code == 404


async def test_a_household_is_read_in_its_jurisdiction_and_its_refused_month_reissued(
    own_stack, dev_env, simulator_url
):
    stack = own_stack
    [refused, paid] = households(stack.settings.database_url, 2, closed=1)
    month = Month.at(datetime.now(UTC)).plus(1)
    await pay_month(dev_env.client, month, task_queue=stack.settings.task_queue)
    away = assistant_of("370305002")
    async with (
        stack.client(assistant_of(HOME)) as assistant,
        stack.client(away) as elsewhere,
        stack.client(AUDITOR) as auditor,
    ):
        listed = (await assistant.get("/recipients")).json()
        assert [r["recipient_no"] for r in listed["items"]] == [refused]
        assert (await elsewhere.get(f"/recipients/{refused}")).status_code == 404
        assert (await elsewhere.get(f"/recipients/{refused}/audit-trail")).status_code == 404

        household = (await assistant.get(f"/recipients/{refused}")).json()
        assert household["status"] == "active" and household["start_month"] == str(month.plus(-1))
        assert household["family"]["applicant"]["id_number"].count("*") == 0  # a caseworker
        masked = (await auditor.get(f"/recipients/{refused}")).json()["family"]["applicant"]
        assert "*" in masked["id_number"] and "*" in masked["phone"]
        [this_month, first] = household["payments"]
        assert (this_month["month"], this_month["status"]) == (str(month), "refused")
        assert this_month["reason"].startswith("account_closed")
        assert first["month"] == str(month.plus(-1))  # the approval's own payment

        async with stack.client(SUPERVISOR) as supervisor:
            rows = (await supervisor.get("/supervision/stuck", params={"kind": "recipient"})).json()
        [row] = [r for r in rows["items"] if r["case_no"] == refused]
        assert row["reason"] == "refused_by_external_system" and str(month) in row["detail"]
        assert "corrected bank account" in row["waits_for"]

        corrected = {"bank": "齐商银行", "account_no": "6217000000000077", "holder": "户主0"}
        not_a_member = corrected | {"holder": "王某"}
        answer = await assistant.post(
            f"/recipients/{refused}/bank-account", json=not_a_member, headers=key()
        )
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "holder"]
        answer = await elsewhere.post(
            f"/recipients/{refused}/bank-account", json=corrected, headers=key()
        )
        assert answer.status_code == 404
        answer = await assistant.post(
            f"/recipients/{refused}/bank-account", json=corrected, headers=key()
        )
        assert answer.status_code == 200 and answer.json()["bank_account"] == "****0077"

        async def payments() -> list[dict]:
            return (await assistant.get(f"/recipients/{refused}")).json()["payments"]

        now_paid = await eventually(payments, lambda p: p[0]["status"] == "paid")
        assert now_paid[0]["account"] == "****0077"
        # Each month the bank answered is a line on the household's trail, chained like a case's.
        trail = (await assistant.get(f"/recipients/{refused}/audit-trail")).json()
        assert [e["action"] for e in trail] == [
            "registered", "month_refused", "bank_account_recorded", "month_paid",
        ]  # fmt: skip
        assert "account_closed" in trail[1]["note"] and str(month) in trail[1]["note"]
        assert "****0077" in trail[3]["note"] and now_paid[0]["transfer_id"] in trail[3]["note"]
        async with stack.client(SUPERVISOR) as supervisor:
            rows = (await supervisor.get("/supervision/stuck", params={"kind": "recipient"})).json()
        assert refused not in [r["case_no"] for r in rows["items"]]
        assert trail[2]["user_id"] == assistant_of(HOME).user_id
        checked = (await auditor.get("/audit/verify")).json()
        assert checked["ok"] and checked["mismatches"] == [], checked
    async with httpx.AsyncClient(base_url=simulator_url) as bank:
        made = (await bank.get("/payment/transfers", params={"recipient_no": refused})).json()
        assert [t["month"] for t in made] == [str(month)]


async def eventually(probe, predicate, timeout: float = 30):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if predicate(value):
            return value
        assert asyncio.get_running_loop().time() < deadline, value
        await asyncio.sleep(0.2)


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_an_approved_household_enters_the_register_and_holds_one_standing_benefit(
    own_stack, dev_env, simulator_url
):
    """From the window to the register: the approval registers the household before its
    first payment, which is that month's payroll item; next month's payroll pays it once
    more; a member cannot apply for 特困 meanwhile, and a 临时救助 says the family is a
    recipient."""
    stack = own_stack
    body = application()
    async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
        case_no = (await assistant.post("/applications", json=body)).json()["case_no"]
        await to_decision(assistant, case_no)
        decided = await officer.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "符合"}
        )
        assert decided.status_code == 200, decided.text
        case = await wait_for(officer, case_no, lambda c: c["first_payment_at"] is not None)
        number = case["recipient_no"]
        assert number and number.startswith("370305-DB-")
        household = (await officer.get(f"/recipients/{number}")).json()
        assert household["case_no"] == case_no and household["status"] == "active"
        [first] = household["payments"]
        assert first["status"] == "paid"
        assert first["transfer_id"] == case["payments"][0]["transfer_id"]
        this_month = Month.at(datetime.now(UTC))
        assert first["month"] == household["start_month"] == str(this_month)

        member = body["household"][0]
        again = application(
            assistance_type="tekun",
            applicant={"name": member["name"], "id_number": member["id_number"],
                       "phone": "13800000001"},
            household=[],
        )  # fmt: skip
        refused = await assistant.post("/applications", json=again)
        assert refused.status_code == 409 and number in refused.json()["detail"]
        temporary = application(
            assistance_type="temporary", expense="major_illness",
            applicant=body["applicant"], household=[],
        )  # fmt: skip
        accepted = await assistant.post("/applications", json=temporary)
        assert accepted.status_code == 201 and accepted.json()["recipient_no"] == number

    month = this_month.plus(1)
    await pay_month(dev_env.client, month, task_queue=stack.settings.task_queue)
    async with httpx.AsyncClient(base_url=simulator_url) as bank:
        paid = (await bank.get("/payment/transfers", params={"recipient_no": number})).json()
    assert [(t["month"], t["amount"]) for t in paid] == [
        (str(this_month), case["monthly_amount"]),
        (str(month), case["monthly_amount"]),
    ]
    async with stack.client(OFFICER) as officer:
        trail = (await officer.get(f"/recipients/{number}/audit-trail")).json()
    assert [(e["action"], e["note"][:7]) for e in trail] == [
        ("registered", trail[0]["note"][:7]),
        ("month_paid", str(this_month)),
        ("month_paid", str(month)),
    ]
    assert [t["transfer_id"] in e["note"] for t, e in zip(paid, trail[1:], strict=True)] == [
        True,
        True,
    ]


async def test_a_batch_whose_totals_differ_from_the_banks_is_reported(own_stack, dev_env):
    """The register and the bank disagree about a batch (a line the bank says it paid is not
    recorded paid): the month's figures and supervision both say so, to the fen."""
    stack = own_stack
    url = stack.settings.database_url
    households(url, 3)
    month = Month.at(datetime.now(UTC)).plus(1)
    await pay_month(dev_env.client, month, task_queue=stack.settings.task_queue)
    with session_scope(url, writes=True) as session:
        batch = session.exec(select(PayrollBatch).where(PayrollBatch.township == HOME)).one()
        totals = reconcile_batch(
            session, month=month, township=HOME, part=batch.part, bank_paid_count=1,
            bank_paid_total=Decimal(batch.bank_paid_fen).scaleb(-2) + Decimal("0.01"),
            at=datetime.now(UTC),
        )  # fmt: skip
    assert not totals.reconciled and totals.difference == Decimal("0.01")
    async with stack.client(SUPERVISOR) as supervisor:
        detail = (await supervisor.get(f"/payrolls/{month}")).json()
        rows = (await supervisor.get("/supervision/stuck", params={"kind": "payroll"})).json()
    assert detail["reconciled"] is False
    [share] = [t for t in detail["townships"] if t["township"] == HOME]
    assert share["difference"] == "0.01" and share["unreconciled_batches"] == [batch.batch_key]
    [row] = rows["items"]
    assert row["reason"] == "not_reconciled" and row["case_no"] == batch.batch_key
