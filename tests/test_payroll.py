"""The monthly payroll through the real stack: households in the register (entered as an
approval enters them), the payroll workflow and its township children on the dev server, the
bank's batch interface and the SMS platform of the simulators. Each test has a database of
its own; the bank is shared, so each test's households are numbered afresh."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlmodel import select
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.cases import Applicant, AuditEntry, BankAccount, HouseholdMember, initial_view
from domain.contracts import PayrollMonth
from domain.errors import WrongStage
from domain.months import Month
from domain.payroll import ItemStatus, payroll_workflow_id, reissue_workflow_id
from store.db import session_scope
from store.recipients import record_bank_account, register_household
from store.records import write_new_case
from store.tables import PayrollBatch, PayrollItem, PayrollRecord, StaffNotification
from tests.conftest import fresh_database, running_stack
from tests.support import ASSISTANT, OFFICER, RING, case_start, id_number
from workflows.payroll import PayrollWorkflow, ReissueWorkflow

TOWNSHIPS = {"370305001": "370305001001", "370305002": "370305002001", "370305100": "370305100201"}


@pytest.fixture
async def own_stack(dev_env, api_settings, tmp_path):
    database = fresh_database(f"sqlite:///{tmp_path / 'jiuzhu.db'}")
    settings = api_settings.model_copy(update={"database_url": database})
    async with running_stack(dev_env.client, settings) as running:
        yield running


def households(database_url: str, count: int, *, closed: int = 0) -> list[str]:
    """``count`` households entered in the register as their approvals enter them, spread over
    three townships; the first ``closed`` paid into closed accounts. Their numbers."""
    numbers = []
    with session_scope(database_url, writes=True) as session:
        for n in range(count):
            township = list(TOWNSHIPS)[n % 3]
            name = f"户主{n}"
            start = case_start(
                case_no=f"T-{uuid.uuid4().hex[:10]}",
                database_url=database_url,
                accepted_at=datetime.now(UTC),
                township=township,
                village=TOWNSHIPS[township],
                applicant=Applicant(name=name, id_number=id_number(), phone=f"137{n:08d}"),
                household=[HouseholdMember(name=f"{name}之子", id_number=id_number("20100101"),
                                           relation="子女")],
            )  # fmt: skip
            accepted = AuditEntry(
                case_no=start.case_no, seq=0, at=start.accepted_at, actor=ASSISTANT,
                action="accepted", from_stage=None, to_stage="survey",
            )  # fmt: skip
            write_new_case(
                session, view=initial_view(start), start=start, entry=accepted, ring=RING
            )
            account_no = ("0009" if n < closed else "6217") + f"{n:012d}"
            numbers.append(
                register_household(
                    session,
                    start=start,
                    account=BankAccount(bank="齐商银行", account_no=account_no, holder=name),
                    amount=Decimal("1000.00") + n,
                    approved_by=OFFICER,
                    approved_at=datetime.now(UTC),
                    first_payment_key=f"{start.case_no}:first-payment",
                    ring=RING,
                )
            )
    return numbers


async def test_next_months_payroll_pays_each_household_once_and_reconciles_with_the_bank(
    own_stack, dev_env, simulator_url
):
    stack = own_stack
    numbers = households(stack.settings.database_url, 12, closed=2)
    month = Month.at(datetime.now(UTC)).plus(1)
    run = dict(id=payroll_workflow_id(month), task_queue=stack.settings.task_queue)
    await dev_env.client.execute_workflow(
        PayrollWorkflow.run, PayrollMonth(str(month), OFFICER.user_id, batch_size=3), **run
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

    # The month has run: it is not run again.
    with pytest.raises(WorkflowAlreadyStartedError):
        await dev_env.client.start_workflow(
            PayrollWorkflow.run,
            PayrollMonth(str(month), OFFICER.user_id),
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            **run,
        )


async def test_the_month_of_approval_is_paid_by_the_approval_not_again_by_the_payroll(
    own_stack, dev_env
):
    stack = own_stack
    households(stack.settings.database_url, 3)
    month = Month.at(datetime.now(UTC))
    await dev_env.client.execute_workflow(
        PayrollWorkflow.run,
        PayrollMonth(str(month), OFFICER.user_id),
        id=f"{payroll_workflow_id(month)}-{uuid.uuid4().hex[:6]}",
        task_queue=stack.settings.task_queue,
    )
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
    await dev_env.client.execute_workflow(
        PayrollWorkflow.run,
        PayrollMonth(str(month), OFFICER.user_id),
        id=f"{payroll_workflow_id(month)}-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
    )
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
