"""Money when the case engine is interfered with: an operator terminates a workflow while the
bank holds a payment's answer, a caseworker changes the family's account while a transfer is
under way, approvals race for a reserve that cannot cover them all. Whatever happens, every
transfer the bank made is on exactly one case and settled once in the ledger, no hold is left
without a case waiting on it, and the family is paid once.

Real API and worker on the Temporal dev server, the simulated bank over HTTP (its delay fault
holds an answer after the transfer is made), each test on a database of its own.
"""

import asyncio
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from store.db import Database
from tests.helpers.actors import ASSISTANT, OFFICER, SUPERVISOR, approver_of, assistant_of
from tests.helpers.api import (
    application,
    emergency,
    eventually,
    intervene,
    key,
    ledger_of,
    notices,
    reserve_of,
    to_decision,
    trail,
    transfers,
    until,
    wait_for,
)
from tests.helpers.stack import watch_halted_now
from watches.halted import mark_halted_cases
from workflows.client import application_workflow_id, emergency_workflow_id

TOWNSHIP, VILLAGE = "370305106", "370305106201"  # 金山镇, 金山村


@pytest.fixture
async def bank(simulator_url):
    """The simulated bank; whatever fault a test arms is disarmed afterwards."""
    async with httpx.AsyncClient(base_url=simulator_url) as sims:
        try:
            yield sims
        finally:
            await sims.delete("/_faults")


async def test_a_transfer_made_as_the_operator_terminated_is_found_settled_and_counted(
    own_stack, dev_env, bank
):
    """The case from the hostile tester's report: ¥1,500 approved while the bank was slow, the
    bank took the transfer, the operator terminated the workflow; the family asked again."""
    stack = own_stack
    body = emergency(TOWNSHIP, VILLAGE, amount="1500.00")
    async with (
        stack.client(assistant_of(TOWNSHIP)) as assistant,
        stack.client(approver_of(TOWNSHIP)) as approver,
        stack.client(SUPERVISOR) as supervisor,
    ):
        before = await reserve_of(approver, TOWNSHIP)
        case_no = (await assistant.post("/emergencies", json=body, headers=key())).json()["case_no"]
        await bank.post(
            "/_faults", json={"service": "payment", "delay_next": 1, "delay_seconds": 30}
        )
        approved = await approver.post(
            f"/emergencies/{case_no}/approval", json={"amount": "1500.00"}, headers=key()
        )
        assert approved.status_code == 200 and approved.json()["stage"] == "paying"
        [made] = await eventually(lambda: transfers(bank, case_no), lambda t: len(t) == 1)
        await dev_env.client.get_workflow_handle(emergency_workflow_id(case_no)).terminate(
            "operator"
        )
        await bank.delete("/_faults")  # the bank's late answer reaches no workflow

        # Halted: not open, but the family's claim stays until the money is known.
        since = datetime.now(UTC) - timedelta(hours=1)
        db = Database(stack.settings.database_url)
        await eventually(lambda: mark_halted_cases(dev_env.client, db, since=since), bool)
        halted = (await approver.get(f"/emergencies/{case_no}")).json()
        assert halted["stage"] == "halted" and halted["halted_from"] == "paying"
        assert halted["reconciled_at"] is None
        again = await assistant.post("/emergencies", json=body, headers=key())
        assert again.status_code == 409 and case_no in again.json()["detail"]
        assert (await reserve_of(approver, TOWNSHIP))["held"] == before["held"] + 1500

        # No supervisor action works before the reconciliation, and none answers 500.
        for action in ("restart", "close"):
            answer = await intervene(supervisor, case_no, action, reason="处理中止的案件")
            assert answer.status_code == 409 and "reconciled" in answer.json()["detail"]
        for action in ("retry-now", "cancel", "escalate", "restart-orphan", "reassign"):
            answer = await intervene(
                supervisor, case_no, action, reason="处理中止的案件", assignee="王助理"
            )
            assert answer.status_code == 409, (action, answer.text)
            assert "restarts it or closes it" in answer.json()["detail"]

        # Reconciled: the transfer is on the case, the hold settled, the payout counted.
        assert await watch_halted_now(dev_env.client, stack.settings) == [case_no]
        reconciled = (await approver.get(f"/emergencies/{case_no}")).json()
        assert reconciled["reconciled_at"] and reconciled["paid_at"]
        [payment] = reconciled["payments"]
        assert payment["transfer_id"] == made["transfer_id"] and payment["amount"] == "1500.00"
        after = await reserve_of(approver, TOWNSHIP)
        assert after["held"] == before["held"]
        assert after["balance"] == before["balance"] - 1500
        mine = [e for e in await ledger_of(approver, TOWNSHIP) if e["case_no"] == case_no]
        assert [e["kind"] for e in mine] == ["settle", "hold"]
        # ¥48,500 is below the minimum: the district is told, as after any payment.
        [told] = [n for n in await notices(approver) if n["kind"] == "reserve_below_minimum"]
        assert TOWNSHIP in told["message"] and "48500.00" in told["message"]
        actions = [e["action"] for e in await trail(approver, case_no)]
        assert actions[-3:] == ["case_halted", "payment_found_at_bank", "payments_reconciled"]
        assert await watch_halted_now(dev_env.client, stack.settings) == []  # once

        # Closed with reasons: the family may ask again, and the repeat rule knows it was paid.
        closed = await intervene(supervisor, case_no, "close", reason="款项已到账，结案")
        assert closed.status_code == 200 and closed.json()["stage"] == "closed_by_supervisor"
        assert (await trail(supervisor, case_no))[-1]["user_id"] == SUPERVISOR.user_id
        for action in ("restart", "close", "retry-now"):
            late = await intervene(supervisor, case_no, action, reason="再次处理")
            assert late.status_code == 409, late.text
        second = await assistant.post("/emergencies", json=body, headers=key())
        assert second.status_code == 201, second.text
        repeat = await approver.post(
            f"/emergencies/{second.json()['case_no']}/approval",
            json={"amount": "1500.00"},
            headers=key(),
        )
        assert repeat.status_code == 409 and case_no in repeat.json()["detail"]
        assert len(await transfers(bank, case_no)) == 1
        assert await transfers(bank, second.json()["case_no"]) == []


async def test_a_hold_with_no_transfer_is_released_and_a_restart_pays_once(
    own_stack, dev_env, bank
):
    stack = own_stack
    async with (
        stack.client(assistant_of(TOWNSHIP)) as assistant,
        stack.client(approver_of(TOWNSHIP)) as approver,
        stack.client(SUPERVISOR) as supervisor,
    ):
        before = await reserve_of(approver, TOWNSHIP)
        created = await assistant.post(
            "/emergencies", json=emergency(TOWNSHIP, VILLAGE, amount="1200.00"), headers=key()
        )
        case_no = created.json()["case_no"]
        await bank.post("/_faults", json={"service": "payment", "fail_next": 1000, "status": 503})
        approved = await approver.post(
            f"/emergencies/{case_no}/approval", json={"amount": "1200.00"}, headers=key()
        )
        assert approved.json()["stage"] == "paying"
        handle = dev_env.client.get_workflow_handle(emergency_workflow_id(case_no))

        async def failed_attempts() -> int:
            pending = (await handle.describe()).raw_description.pending_activities
            return max((p.attempt for p in pending), default=0)

        await eventually(failed_attempts, lambda attempt: attempt >= 2)
        await handle.terminate("operator")
        await bank.delete("/_faults")

        assert await watch_halted_now(dev_env.client, stack.settings) == [case_no]
        reconciled = (await approver.get(f"/emergencies/{case_no}")).json()
        assert reconciled["stage"] == "halted" and reconciled["payments"] == []
        assert (await reserve_of(approver, TOWNSHIP))["held"] == before["held"]
        steps = await trail(approver, case_no)
        assert "no transfer" in steps[-1]["note"] and "released" in steps[-1]["note"]

        restarted = await intervene(supervisor, case_no, "restart", reason="支付系统已恢复，重启")
        assert restarted.status_code == 200, restarted.text
        assert restarted.json()["stage"] == "paying"
        again = await intervene(supervisor, case_no, "restart", reason="再次重启")
        assert again.status_code == 409, again.text

        paid = await until(approver, case_no, lambda c: c["stage"] == "paid")
        [payment] = paid["payments"]
        [made] = await transfers(bank, case_no)
        assert payment["transfer_id"] == made["transfer_id"]
        after = await reserve_of(approver, TOWNSHIP)
        assert after["balance"] == before["balance"] - 1200 and after["held"] == before["held"]
        mine = [e["kind"] for e in await ledger_of(approver, TOWNSHIP) if e["case_no"] == case_no]
        assert mine == ["settle", "hold", "release", "hold"]  # newest first: held again, paid
        actions = [e["action"] for e in await trail(approver, case_no)]
        assert actions.index("restarted") < actions.index("paid")
        assert [e["seq"] for e in await trail(approver, case_no)] == list(range(len(actions)))


async def test_an_approved_application_terminated_mid_payment_restarts_and_is_paid_once(
    own_stack, dev_env, bank
):
    stack = own_stack
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(OFFICER) as officer,
        stack.client(SUPERVISOR) as supervisor,
    ):
        body = application()
        case_no = (await assistant.post("/applications", json=body)).json()["case_no"]
        await to_decision(assistant, case_no)
        await bank.post(
            "/_faults", json={"service": "payment", "delay_next": 1, "delay_seconds": 30}
        )
        decided = await officer.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "符合"}
        )
        assert decided.status_code == 200 and decided.json()["stage"] == "approved"
        [made] = await eventually(lambda: transfers(bank, case_no), lambda t: len(t) == 1)
        await dev_env.client.get_workflow_handle(application_workflow_id(case_no)).terminate(
            "operator"
        )
        await bank.delete("/_faults")

        # Approved, the household entered the register before its payment: halted, the family
        # still holds its standing benefit, and a second application is refused naming it.
        duplicate = await assistant.post("/applications", json=body)
        assert duplicate.status_code == 409
        [recipient_no] = re.findall(r"\d{6}-DB-\d{4}-\d+", duplicate.json()["detail"])
        registered = (await officer.get(f"/recipients/{recipient_no}")).json()
        assert registered["case_no"] == case_no
        assert await watch_halted_now(dev_env.client, stack.settings) == [case_no]
        reconciled = (await officer.get(f"/applications/{case_no}")).json()
        assert reconciled["stage"] == "halted" and reconciled["halted_from"] == "approved"
        assert reconciled["first_payment_at"]
        assert [p["transfer_id"] for p in reconciled["payments"]] == [made["transfer_id"]]

        restarted = await intervene(supervisor, case_no, "restart", reason="重启发放流程")
        assert restarted.status_code == 200 and restarted.json()["stage"] == "approved"
        done = await wait_for(officer, case_no, lambda c: c["first_payment_at"] is not None)
        assert [p["transfer_id"] for p in done["payments"]] == [made["transfer_id"]]
        assert len(await transfers(bank, case_no)) == 1
        sms = (await bank.get("/sms/messages", params={"template": "approved"})).json()
        assert len([m for m in sms if case_no in m["text"]]) == 1


async def test_a_restart_and_a_close_sent_at_once_are_not_both_done(own_stack, dev_env):
    stack = own_stack
    async with stack.client(ASSISTANT) as assistant, stack.client(SUPERVISOR) as supervisor:
        case_no = (await assistant.post("/applications", json=application())).json()["case_no"]
        await dev_env.client.get_workflow_handle(application_workflow_id(case_no)).terminate(
            "operator"
        )
        await eventually(lambda: watch_halted_now(dev_env.client, stack.settings), bool)
        answers = await asyncio.gather(
            intervene(supervisor, case_no, "restart", reason="重启"),
            intervene(supervisor, case_no, "close", reason="结案"),
        )
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        case = (await supervisor.get(f"/applications/{case_no}")).json()
        winner = answers[0] if answers[0].status_code == 200 else answers[1]
        assert case["stage"] == winner.json()["stage"]
        actions = [e["action"] for e in await trail_of(supervisor, case_no)]
        assert ("restarted" in actions) != ("closed_by_supervisor" in actions)


async def trail_of(http: httpx.AsyncClient, case_no: str) -> list[dict]:
    return (await http.get(f"/applications/{case_no}/audit-trail")).json()


async def test_an_account_changed_while_the_first_transfer_is_under_way_is_refused(own_stack, bank):
    """An approved 低保 case without an account; the caseworker records one, and a moment later
    another, while the bank is slow: the second is refused, the case shows what the bank paid."""
    stack = own_stack
    async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
        body = application()
        del body["bank_account"]
        case_no = (await assistant.post("/applications", json=body)).json()["case_no"]
        await to_decision(assistant, case_no)
        await officer.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "符合"}
        )
        await wait_for(officer, case_no, lambda c: c["awaiting_bank_account"])
        await bank.post(
            "/_faults", json={"service": "payment", "delay_next": 1, "delay_seconds": 5}
        )
        holder = body["applicant"]["name"]
        accounts = [
            {
                "bank": "齐商银行",
                "account_no": f"62230000{n}{n}{n}{n}{n}{n}{n}{n}",
                "holder": holder,
            }
            for n in range(1, 7)
        ]
        answers = await asyncio.gather(
            *(
                assistant.post(f"/applications/{case_no}/bank-account", json=a, headers={**key()})
                for a in accounts
            )
        )
        assert sorted(a.status_code for a in answers) == [200, 409, 409, 409, 409, 409]
        [taken] = [a.json() for a in answers if a.status_code == 200]
        refusal = next(a for a in answers if a.status_code == 409).json()["detail"]
        assert "under way" in refusal and taken["bank_account"] in refusal
        await bank.delete("/_faults")

        paid = await wait_for(officer, case_no, lambda c: c["first_payment_at"] is not None)
        [made] = await transfers(bank, case_no)
        assert made["account"]["account_no_masked"] == paid["bank_account"]
        [payment] = paid["payments"]
        assert payment == {
            "attempt": 1,
            "amount": paid["monthly_amount"],
            "account": paid["bank_account"],
            "status": "settled",
            "at": paid["first_payment_at"],
            "transfer_id": made["transfer_id"],
            "reason": "",
        }
        late = await assistant.post(
            f"/applications/{case_no}/bank-account", json=accounts[0], headers=key()
        )
        assert late.status_code == 409, late.text


async def test_approvals_answer_the_stage_the_reserve_let_them_reach(own_stack):
    """Eight approvals at once of ¥12,500 each on a reserve of ¥50,000: four are held and
    paid, four wait for funds, and each approver is told which."""
    stack = own_stack
    reason = "房屋倒塌，一事一议"
    async with (
        stack.client(assistant_of(TOWNSHIP)) as assistant,
        stack.client(OFFICER) as officer,
    ):
        assert (await reserve_of(officer, TOWNSHIP))["balance"] == 50000
        cases = []
        for _ in range(8):
            created = await assistant.post(
                "/emergencies", json=emergency(TOWNSHIP, VILLAGE, amount="12500.00"), headers=key()
            )
            cases.append(created.json()["case_no"])
        answers = await asyncio.gather(
            *(
                officer.post(
                    f"/emergencies/{c}/exception-approval",
                    json={"amount": "12500.00", "reason": reason},
                    headers=key(),
                )
                for c in cases
            )
        )
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        said = {a.json()["case_no"]: a.json()["stage"] for a in answers}
        assert sorted(said.values()) == ["awaiting_funds"] * 4 + ["paying"] * 4, said
        for case_no, stage in said.items():
            now = (await officer.get(f"/emergencies/{case_no}")).json()["stage"]
            assert now == stage or (stage, now) == ("paying", "paid"), (case_no, stage, now)
