"""Nothing is lost when processes die: kill the worker and the Temporal dev server mid-case
(SIGKILL, no goodbye), start them again on the same files, and the case carries on — paid once."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client

from api.main import create_app
from domain.policy import Policy
from simulators.app import create_app as create_simulators
from stack import temporal_dev_server_command, wait_for_port
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER, headers
from tests.helpers.api import application, eventually, survey, wait_for
from tests.helpers.servers import free_port, serve
from tests.helpers.stack import CONVERTER
from workflows.client import emergency_workflow_id


class Processes:
    """The dev server and the worker as real OS processes, restartable on the same files."""

    def __init__(self, tmp_path, settings) -> None:
        self.tmp_path, self.settings = tmp_path, settings
        self.port = int(settings.temporal_address.rsplit(":", 1)[1])
        self.running: dict[str, subprocess.Popen] = {}
        self.worker_env: dict[str, str] = {}
        """More settings for the worker (its watch's pace, say)."""

    def start(self) -> None:
        server = subprocess.Popen(
            temporal_dev_server_command(
                db_file=self.tmp_path / "temporal.db", port=self.port, ui_port=None
            ),
            stdout=subprocess.DEVNULL,
        )
        self.running["temporal"] = server
        wait_for_port("127.0.0.1", self.port, server)
        env = (
            os.environ
            | {
                "JIUZHU_TEMPORAL_ADDRESS": self.settings.temporal_address,
                "JIUZHU_DATABASE_URL": self.settings.database_url,
                "JIUZHU_TASK_QUEUE": self.settings.task_queue,
                "JIUZHU_PAYMENT_URL": self.settings.payment_url,
                "JIUZHU_SMS_URL": self.settings.sms_url,
                "JIUZHU_VERIFICATION_URL": self.settings.verification_url,
                "JIUZHU_LOG_LEVEL": "WARNING",
            }
            | self.worker_env
        )
        self.running["worker"] = subprocess.Popen([sys.executable, "worker.py"], env=env)

    def kill(self) -> None:
        for process in self.running.values():
            process.send_signal(signal.SIGKILL)
            process.wait()
        self.running.clear()

    def stop(self) -> None:
        for process in reversed(self.running.values()):
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


async def engine_ready(http: httpx.AsyncClient, timeout: float = 60) -> None:
    """The API reaches the dev server it was started beside (it connects in the background:
    on a loaded machine its first attempt may come before the server listens)."""
    for _ in range(int(timeout * 4)):
        if (await http.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.25)
    raise AssertionError("the API never reached its database and the case engine")


@pytest.fixture
def processes(tmp_path, settings) -> Iterator[Processes]:
    """A deployment of its own: dev server, worker, database and external systems."""
    with serve(create_simulators(str(tmp_path / "simulators.db"))) as simulators:
        settings = settings.model_copy(
            update={
                "temporal_address": f"127.0.0.1:{free_port()}",
                "payment_url": f"{simulators}/payment",
                "sms_url": f"{simulators}/sms",
                "verification_url": f"{simulators}/verification",
            }
        )
        running = Processes(tmp_path, settings)
        running.start()
        yield running
        running.stop()


async def test_a_case_survives_killing_the_worker_and_the_server(processes):
    # The API puts the policy into each case it accepts: a zero-day notice, the clock being real.
    settings = processes.settings.model_copy(update={"policy": Policy(notice_calendar_days=0)})
    with serve(create_app(settings)) as url:
        assistant = httpx.AsyncClient(
            base_url=url, headers=headers(settings, ASSISTANT), timeout=30
        )
        officer = httpx.AsyncClient(base_url=url, headers=headers(settings, OFFICER), timeout=30)
        coordinator = httpx.AsyncClient(
            base_url=url, headers=headers(settings, COORDINATOR), timeout=30
        )
        async with assistant, officer, coordinator:
            await engine_ready(assistant)
            case_no = (await assistant.post("/applications", json=application())).json()["case_no"]
            assert (
                await coordinator.post(f"/applications/{case_no}/survey", json=survey())
            ).status_code == 200
            await wait_for(assistant, case_no, lambda c: c["stage"] == "review")

            processes.kill()
            processes.start()

            case = await wait_for(assistant, case_no, lambda c: c["stage"] == "review", timeout=30)
            assert case["verification"] is not None
            reviewed = await assistant.post(
                f"/applications/{case_no}/review",
                json={"recommendation": "approve", "reasons": "收入低于标准"},
            )
            assert reviewed.status_code == 200, reviewed.text
            await wait_for(assistant, case_no, lambda c: c["stage"] == "decision", timeout=30)
            decided = await officer.post(
                f"/applications/{case_no}/decision",
                json={"outcome": "approve", "reasons": "符合条件"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert decided.status_code == 200

            # Die again between the decision and the payment, then finish.
            processes.kill()
            processes.start()
            # A payment attempt lost with the worker is retried when its 30 s time-out ends.
            await wait_for(
                officer, case_no, lambda c: c["first_payment_at"] is not None, timeout=90
            )
            actions = [
                e["action"]
                for e in (await officer.get(f"/applications/{case_no}/audit-trail")).json()
            ]

    assert actions.count("approved") == 1 and actions.count("first_payment_made") == 1
    transfers = httpx.get(
        f"{processes.settings.payment_url}/transfers", params={"case_no": case_no}
    ).json()
    assert len(transfers) == 1


async def test_an_emergency_is_paid_once_when_the_worker_dies_after_the_bank_took_the_transfer(
    processes,
):
    from tests.helpers.actors import APPROVER
    from tests.helpers.api import flood_emergency as emergency

    settings = processes.settings
    payment = settings.payment_url
    faults = payment.rsplit("/", 1)[0] + "/_faults"
    with serve(create_app(settings)) as url:
        assistant = httpx.AsyncClient(
            base_url=url, headers=headers(settings, ASSISTANT), timeout=30
        )
        approver = httpx.AsyncClient(base_url=url, headers=headers(settings, APPROVER), timeout=30)
        async with assistant, approver:
            await engine_ready(assistant)
            body = emergency(1) | {"township": "370305001", "village": "370305001002"}
            case_no = (await assistant.post("/emergencies", json=body)).json()["case_no"]
            before = (await approver.get("/townships/370305001/reserve")).json()
            # The payment system takes the transfer, then its answer is lost with the worker.
            armed = httpx.post(
                faults, json={"service": "payment", "delay_next": 1, "delay_seconds": 120}
            )
            assert armed.status_code == 204, armed.text
            approved = await approver.post(
                f"/emergencies/{case_no}/approval", json={"amount": "2000"}
            )
            assert approved.status_code == 200, approved.text

            async def taken() -> list[dict]:
                return httpx.get(f"{payment}/transfers", params={"case_no": case_no}).json()

            await eventually(taken, bool, timeout=10)  # the bank has the transfer ...
            waiting = (await approver.get(f"/emergencies/{case_no}")).json()
            assert waiting["stage"] != "paid" and not [
                p for p in waiting["payments"] if p["status"] == "settled"
            ], waiting  # ... and the worker has not heard so: now it dies
            processes.kill()
            httpx.delete(faults)
            processes.start()
            # The lost attempt is retried when its 30 s time-out ends, under the same key.
            case = await _wait_emergency(approver, case_no, lambda c: c["stage"] == "paid", 90)
            after = (await approver.get("/townships/370305001/reserve")).json()
            ledger = (await approver.get("/townships/370305001/reserve/ledger")).json()["items"]

    assert len(httpx.get(f"{payment}/transfers", params={"case_no": case_no}).json()) == 1
    assert [p["status"] for p in case["payments"]] == ["settled"]
    assert Decimal(before["balance"]) - Decimal(after["balance"]) == Decimal("2000")
    assert after["held"] == before["held"]
    assert sorted(e["kind"] for e in ledger if e["case_no"] == case_no) == ["hold", "settle"]


async def _wait_emergency(
    client: httpx.AsyncClient, case_no: str, predicate, timeout: float
) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = await client.get(f"/emergencies/{case_no}")
        if answer.status_code == 200 and predicate(case := answer.json()):
            return case
        assert asyncio.get_running_loop().time() < deadline, answer.text
        await asyncio.sleep(0.5)


# ---- every payment reconciled, whatever the engine went through ---------------------------


async def test_twenty_payments_through_terminations_resets_and_a_killed_worker_are_each_made_once(
    processes,
):
    """Twenty emergencies approved while the bank is slow (its answers held back after it
    takes the transfer) or down; meanwhile an operator terminates five workflows and resets
    four, and the worker is killed. The worker's own watch halts the terminated cases and
    reconciles them with the bank; a supervisor restarts three and closes two. Afterwards every
    transfer at the bank is matched by exactly one settlement in the ledger and one payment on
    one case, and no money is held for a case not waiting for it."""
    from tests.helpers.actors import SUPERVISOR, approver_of, assistant_of
    from tests.helpers.api import flood_emergency as emergency

    settings = processes.settings
    processes.worker_env = {
        "JIUZHU_HALTED_WATCH_SECONDS": "1",
        "JIUZHU_RECONCILE_AFTER_SECONDS": "3",
    }
    processes.kill()
    processes.start()
    bank = httpx.AsyncClient(base_url=settings.payment_url.rsplit("/", 1)[0], timeout=30)
    engine = await Client.connect(settings.temporal_address, data_converter=CONVERTER)
    townships = {"370305001": "370305001002", "370305104": "370305104201"}
    with serve(create_app(settings)) as url:
        people = [OFFICER, SUPERVISOR]
        people += [who(t) for t in townships for who in (assistant_of, approver_of)]
        clients = {
            who.user_id: httpx.AsyncClient(base_url=url, headers=headers(settings, who), timeout=60)
            for who in people
        }
        officer, supervisor = clients[OFFICER.user_id], clients[SUPERVISOR.user_id]
        try:
            cases: list[tuple[str, str]] = []  # (case number, township)
            for n in range(20):
                township = list(townships)[n % 2]
                body = emergency(n) | {"township": township, "village": townships[township]}
                body["requested_amount"] = f"{1000 + 37 * n}.00"
                assistant = clients[f"u-assistant-{township}"]
                created = await assistant.post("/emergencies", json=body)
                assert created.status_code == 201, created.text
                cases.append((created.json()["case_no"], township))

            async def approve(case_no: str, township: str, amount: str) -> None:
                approver = clients[f"u-approver-{township}"]
                answer = await approver.post(
                    f"/emergencies/{case_no}/approval", json={"amount": amount}
                )
                assert answer.status_code == 200, answer.text
                assert answer.json()["stage"] == "paying"

            # Fifteen transfers the bank takes and answers late; five while it is down.
            await bank.post(
                "/_faults", json={"service": "payment", "delay_next": 15, "delay_seconds": 90}
            )
            await asyncio.gather(
                *(approve(c, t, f"{1000 + 37 * n}.00") for n, (c, t) in enumerate(cases[:15]))
            )
            await _until(lambda: _transfer_count(bank, [c for c, _ in cases[:15]]), 15)
            await bank.post(
                "/_faults", json={"service": "payment", "fail_next": 10_000, "status": 503}
            )
            await asyncio.gather(
                *(
                    approve(c, t, f"{1000 + 37 * n}.00")
                    for n, (c, t) in enumerate(cases[15:], start=15)
                )
            )
            await asyncio.sleep(2)  # their first attempts fail

            terminated = [cases[i][0] for i in (0, 1, 2, 15, 16)]
            for case_no in terminated:
                await engine.get_workflow_handle(emergency_workflow_id(case_no)).terminate(
                    "operator"
                )
            for i in (3, 4, 5, 17):
                await _reset_to_last_task(engine, emergency_workflow_id(cases[i][0]))
            processes.kill()  # the worker and the engine die mid-payment
            await bank.delete("/_faults")
            processes.start()

            # The worker's watch halts the terminated cases and reconciles them.
            async def reconciled() -> int:
                found = [(await officer.get(f"/emergencies/{c}")).json() for c in terminated]
                return sum(c["stage"] == "halted" and bool(c["reconciled_at"]) for c in found)

            await _until(reconciled, len(terminated), timeout=60)
            for case_no in (terminated[0], terminated[3], terminated[1]):
                answer = await supervisor.post(
                    f"/supervision/cases/{case_no}/restart", json={"reason": "重启支付"}
                )
                assert answer.status_code == 200, answer.text
            for case_no in (terminated[2], terminated[4]):
                answer = await supervisor.post(
                    f"/supervision/cases/{case_no}/close", json={"reason": "核实后结案"}
                )
                assert answer.status_code == 200, answer.text
            closed = {terminated[2], terminated[4]}

            async def settled() -> int:
                found = [(await officer.get(f"/emergencies/{c}")).json() for c, _ in cases]
                return sum(c["stage"] in ("paid", "closed_by_supervisor") for c in found)

            # Attempts lost with the worker are retried when their 30 s time-out ends.
            await _until(settled, 20, timeout=120)

            made = []
            for case_no, township in cases:
                case = (await officer.get(f"/emergencies/{case_no}")).json()
                at_bank = (await bank.get("/payment/transfers", params={"case_no": case_no})).json()
                assert len(at_bank) <= 1, at_bank  # one key, one transfer
                assert case["stage"] == ("closed_by_supervisor" if case_no in closed else "paid")
                assert [p["transfer_id"] for p in case["payments"]] == [
                    t["transfer_id"] for t in at_bank
                ], (case_no, case["payments"], at_bank)
                ledger = (
                    await officer.get(
                        f"/townships/{township}/reserve/ledger", params={"page_size": 200}
                    )
                ).json()["items"]
                mine = [e["kind"] for e in ledger if e["case_no"] == case_no]
                assert mine.count("settle") == len(at_bank), (case_no, mine)
                assert mine.count("hold") == mine.count("settle") + mine.count("release")
                made += [(township, Decimal(t["amount"])) for t in at_bank]
                if case_no == terminated[2]:  # the bank had paid: found, settled, then closed
                    assert len(at_bank) == 1 and mine.count("settle") == 1
                if case_no == terminated[4]:  # the bank was down: released, then closed
                    assert at_bank == [] and mine == ["release", "hold"]
            for township in townships:
                reserve = (await officer.get(f"/townships/{township}/reserve")).json()
                assert Decimal(reserve["held"]) == 0  # no case waits for money
                paid_out = sum(a for t, a in made if t == township)
                assert Decimal(reserve["balance"]) == Decimal(50000) - paid_out
        finally:
            for client in clients.values():
                await client.aclose()
            await bank.aclose()


async def _transfer_count(bank: httpx.AsyncClient, case_nos: list[str]) -> int:
    found = 0
    for case_no in case_nos:
        found += len((await bank.get("/payment/transfers", params={"case_no": case_no})).json())
    return found


async def _until(count, expected: int, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (got := await count()) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{got} of {expected}"
        await asyncio.sleep(0.5)


async def _reset_to_last_task(client: Client, workflow_id: str) -> None:
    """What an operator's ``temporal workflow reset --type LastWorkflowTask`` does."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    last = max(
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            reason="operator reset",
            workflow_task_finish_event_id=last,
            request_id=str(uuid.uuid4()),
        )
    )


async def test_a_payroll_killed_as_the_bank_takes_a_batch_pays_every_household_once(processes):
    """The worker and the engine killed (SIGKILL) after the bank took a batch and before its
    answer came back; started again, the payroll finishes: every household paid once for the
    month, every batch reconciled to the fen."""
    from datetime import UTC, datetime

    from domain.months import Month
    from tests.helpers.cases import households

    settings = processes.settings
    numbers = households(settings.database_url, 9)
    month = Month.at(datetime.now(UTC)).plus(1)
    bank = httpx.AsyncClient(base_url=settings.payment_url.rsplit("/", 1)[0], timeout=30)
    with serve(create_app(settings)) as url:
        officer = httpx.AsyncClient(base_url=url, headers=headers(settings, OFFICER), timeout=30)
        async with officer, bank:
            await engine_ready(officer)
            await bank.post(
                "/_faults", json={"service": "payment", "delay_next": 1, "delay_seconds": 120}
            )
            started = await officer.post("/payrolls", json={"month": str(month)})
            assert started.status_code == 202, started.text

            async def paid() -> int:
                found = 0
                for number in numbers:
                    made = await bank.get("/payment/transfers", params={"recipient_no": number})
                    found += sum(t["month"] == str(month) for t in made.json())
                return found

            await _until(lambda: _at_least(paid, 1), 1)  # a batch taken, its answer held
            processes.kill()
            await bank.delete("/_faults")
            processes.start()

            async def completed() -> int:
                answer = await officer.get(f"/payrolls/{month}")
                return int(answer.status_code == 200 and answer.json()["status"] == "completed")

            # The send lost with the worker is retried when its 30 s time-out ends.
            await _until(completed, 1, timeout=120)
            detail = (await officer.get(f"/payrolls/{month}")).json()
            assert detail["reconciled"] is True
            assert sum(t["paid"]["count"] for t in detail["townships"]) == len(numbers)
            for number in numbers:
                made = (
                    await bank.get("/payment/transfers", params={"recipient_no": number})
                ).json()
                assert [t["month"] for t in made] == [str(month)], number


async def _at_least(count, floor: int) -> int:
    return int(await count() >= floor)
