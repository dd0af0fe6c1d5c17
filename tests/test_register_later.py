"""The register's loose ends over the real stack: households approved and paid before an
approval entered them in the register are entered once by the worker's one-off step; a
re-issue the engine did not take when its account was recorded is started by the watch; and
a recipient household's claim survives a key rotation."""

import asyncio
import base64
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import TypeAdapter
from sqlmodel import delete, select
from temporalio.client import Client

from domain.cases import BankAccount, CaseView
from domain.months import Month
from domain.payroll import ItemStatus
from store.db import Database, session_scope
from store.recipients import record_bank_account
from store.records import view_of
from store.tables import (
    AuditEntryRecord,
    CaseRecord,
    HouseholdClaim,
    PayrollItem,
    RecipientRecord,
)
from tests.helpers.actors import ASSISTANT, OFFICER, SUPERVISOR
from tests.helpers.api import application, member_applies, to_decision, wait_for
from tests.helpers.cases import households
from tests.helpers.stack import RING, fresh_database, running_stack
from tests.helpers.workflows import pay_month
from watches.id_numbers import rehash_id_numbers
from watches.payroll import register_approved_cases, start_reissues
from workflows.client import application_workflow_id, data_converter

CASE_VIEW = TypeAdapter(CaseView)


async def approved_and_paid(stack, client: Client, *, account: dict | None) -> tuple[str, dict]:
    """An application approved and paid; ``account`` recorded after the approval when the
    application named none. Its number, once its workflow has ended."""
    body = application()
    if account:
        del body["bank_account"]
    async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
        case_no = (await assistant.post("/applications", json=body)).json()["case_no"]
        await to_decision(assistant, case_no)
        decided = await officer.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "符合"}
        )
        assert decided.status_code == 200, decided.text
        if account:
            await wait_for(officer, case_no, lambda c: c["awaiting_bank_account"])
            recorded = await assistant.post(
                f"/applications/{case_no}/bank-account",
                json={**account, "holder": body["applicant"]["name"]},
            )
            assert recorded.status_code == 200, recorded.text
        await wait_for(officer, case_no, lambda c: c["first_payment_at"] is not None)
    await client.get_workflow_handle(application_workflow_id(case_no)).result()
    return case_no, body


def as_before_the_register(url: str, case_no: str) -> None:
    """The case as an approval left it before approvals entered households in the register:
    no household, its claim released when it closed."""
    with session_scope(url, writes=True) as session:
        row = session.get(CaseRecord, case_no)
        view = view_of(row)
        number, view.recipient_no = view.recipient_no, None
        row.view = CASE_VIEW.dump_json(view).decode()
        session.add(row)
        for table, column in (
            (RecipientRecord, RecipientRecord.recipient_no),
            (PayrollItem, PayrollItem.recipient_no),
            (AuditEntryRecord, AuditEntryRecord.case_no),
            (HouseholdClaim, HouseholdClaim.case_no),
        ):
            session.exec(delete(table).where(column == number))


async def not_registered(supervisor: httpx.AsyncClient) -> list[str]:
    """What supervision lists as approved but not in the register."""
    answer = await supervisor.get("/supervision/stuck", params={"kind": "application"})
    assert answer.status_code == 200, answer.text
    stuck = answer.json()
    return [r["case_no"] for r in stuck["items"] if r["reason"] == "not_registered"]


async def test_households_approved_before_the_register_are_entered_once(
    dev_env, api_settings, tmp_path, simulator_url
):
    url = fresh_database(f"sqlite:///{tmp_path / 'jiuzhu.db'}")
    settings = api_settings.model_copy(update={"database_url": url})
    later = {"bank": "齐商银行", "account_no": "6223000077771234"}
    async with running_stack(dev_env.client, settings) as stack:
        # Its account recorded after approval: only its workflow holds the number.
        recorded_later, body = await approved_and_paid(stack, dev_env.client, account=later)
        # Its account accepted with it: the records hold it.
        accepted_with, _ = await approved_and_paid(stack, dev_env.client, account=None)
    for case_no in (recorded_later, accepted_with):
        as_before_the_register(url, case_no)

    # No worker reads a workflow: what the records keep is entered, the rest waits.
    db, quick = Database(url), timedelta(seconds=1)
    entered, left = await register_approved_cases(dev_env.client, db, ring=RING, timeout=quick)
    assert len(entered) == 1 and list(left) == [recorded_later], left
    assert "not kept" in left[recorded_later]

    async with running_stack(dev_env.client, settings) as stack:
        async with stack.client(SUPERVISOR) as supervisor:
            assert await not_registered(supervisor) == [recorded_later]
            [late] = (await register_approved_cases(dev_env.client, db, ring=RING))[0]
            assert await not_registered(supervisor) == []
        with session_scope(url) as session:
            households = {
                r.case_no: r
                for r in session.exec(select(RecipientRecord).where(RecipientRecord.case_no.in_(
                    [recorded_later, accepted_with]
                )))
            }  # fmt: skip
            items = session.exec(select(PayrollItem)).all()
            cases = {n: view_of(session.get(CaseRecord, n)) for n in households}
        assert [households[accepted_with].recipient_no, late] == [
            entered[0],
            households[recorded_later].recipient_no,
        ]
        assert households[recorded_later].bank_account == "****1234"
        this_month = str(Month.at(datetime.now(UTC)))
        for case_no, household in households.items():
            assert cases[case_no].recipient_no == household.recipient_no
            [item] = [i for i in items if i.recipient_no == household.recipient_no]
            # Its approval paid that month: the month's payroll item, paid by that transfer.
            assert (item.month, item.status) == (this_month, ItemStatus.paid)
            assert item.transfer_id == cases[case_no].payments[-1].transfer_id

        number = households[recorded_later].recipient_no
        async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
            again = member_applies(body)
            refused = await assistant.post("/applications", json=again)
            assert refused.status_code == 409 and number in refused.json()["detail"]
            read = (await officer.get(f"/recipients/{number}")).json()
            assert read["case_no"] == recorded_later and read["status"] == "active"
            trail = (await officer.get(f"/recipients/{number}/audit-trail")).json()
            assert [e["action"] for e in trail][:1] == ["registered"]

        # Once is enough: a second start of the worker enters no one again.
        assert await register_approved_cases(dev_env.client, db, ring=RING) == ([], {})

        # Next month's payroll pays each entered household once, into its account.
        month = Month.parse(this_month).plus(1)
        await pay_month(dev_env.client, month, task_queue=stack.settings.task_queue)
    async with httpx.AsyncClient(base_url=simulator_url) as bank:
        paid = (await bank.get("/payment/transfers", params={"recipient_no": number})).json()
    # (Its approval's transfer was made before the household had a number.)
    assert [(t["month"], t["account"]["account_no_masked"]) for t in paid] == [
        (str(month), "****1234")
    ]


async def test_a_reissue_the_engine_did_not_take_is_started_by_the_watch(
    own_stack, dev_env, simulator_url
):
    stack = own_stack
    url, queue = stack.settings.database_url, stack.settings.task_queue
    refused, *_ = households(url, 2, closed=1)
    month = Month.at(datetime.now(UTC)).plus(1)
    await pay_month(dev_env.client, month, task_queue=queue)
    # The corrected account is recorded; the engine was away, so no re-issue started.
    corrected = BankAccount(bank="齐商银行", account_no="6217000000000077", holder="户主0")
    with session_scope(url, writes=True) as session:
        record_bank_account(
            session, recipient_no=refused, account=corrected, actor=ASSISTANT,
            at=datetime.now(UTC), ring=RING,
        )  # fmt: skip
        assert session.get(PayrollItem, (refused, str(month))).status == ItemStatus.reissuing

    db = Database(url)
    assert await start_reissues(dev_env.client, db, task_queue=queue) == 1
    for _ in range(300):
        with session_scope(url) as session:
            item = session.get(PayrollItem, (refused, str(month)))
        if item.status == ItemStatus.paid:
            break
        await asyncio.sleep(0.1)
    assert item.status == ItemStatus.paid and item.account == "****0077"
    assert await start_reissues(dev_env.client, db, task_queue=queue) == 0
    async with httpx.AsyncClient(base_url=simulator_url) as bank:
        paid = (await bank.get("/payment/transfers", params={"recipient_no": refused})).json()
    assert [t["month"] for t in paid] == [str(month)]


async def test_a_households_claim_is_rehashed_after_a_rotation_and_still_refuses(
    own_stack, dev_env
):
    stack = own_stack
    url = stack.settings.database_url
    case_no, body = await approved_and_paid(stack, dev_env.client, account=None)
    with session_scope(url) as session:
        number = view_of(session.get(CaseRecord, case_no)).recipient_no
        claims = session.exec(select(HouseholdClaim).where(HouseholdClaim.case_no == number)).all()
    assert len(claims) == 2 and {c.key_id for c in claims} == {RING.current}

    # A rotation: a new key made current; the worker's watch re-hashes the household's claim.
    rotated = stack.settings.model_copy(
        update={
            "encryption_keys": {
                **stack.settings.encryption_keys,
                "rotated-2": base64.b64encode(b"r" * 32).decode(),
            },
            "encryption_key_id": "rotated-2",
        }
    )
    ring = rotated.key_ring()
    assert await rehash_id_numbers(Database(url), ring=ring) == 2
    with session_scope(url) as session:
        claims = session.exec(select(HouseholdClaim).where(HouseholdClaim.case_no == number)).all()
    assert len(claims) == 2 and {c.key_id for c in claims} == {"rotated-2"}

    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=data_converter(ring),
    )
    async with (
        running_stack(client, rotated) as restarted,
        restarted.client(ASSISTANT) as assistant,
    ):
        again = member_applies(body)
        refused = await assistant.post("/applications", json=again)
    assert refused.status_code == 409 and number in refused.json()["detail"]
