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

from api.main import create_app
from domain.policy import Policy
from simulators.app import create_app as create_simulators
from stack import temporal_dev_server_command, wait_for_port
from tests.support import ASSISTANT, COORDINATOR, OFFICER, free_port, serve
from tests.test_api import application, survey, wait_for


class Processes:
    """The dev server and the worker as real OS processes, restartable on the same files."""

    def __init__(self, tmp_path, settings) -> None:
        self.tmp_path, self.settings = tmp_path, settings
        self.port = int(settings.temporal_address.rsplit(":", 1)[1])
        self.running: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        server = subprocess.Popen(
            temporal_dev_server_command(
                db_file=self.tmp_path / "temporal.db", port=self.port, ui_port=None
            ),
            stdout=subprocess.DEVNULL,
        )
        self.running["temporal"] = server
        wait_for_port("127.0.0.1", self.port, server)
        env = os.environ | {
            "JIUZHU_TEMPORAL_ADDRESS": self.settings.temporal_address,
            "JIUZHU_DATABASE_URL": self.settings.database_url,
            "JIUZHU_TASK_QUEUE": self.settings.task_queue,
            "JIUZHU_PAYMENT_URL": self.settings.payment_url,
            "JIUZHU_SMS_URL": self.settings.sms_url,
            "JIUZHU_VERIFICATION_URL": self.settings.verification_url,
            "JIUZHU_LOG_LEVEL": "WARNING",
        }
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
        assistant = httpx.AsyncClient(base_url=url, headers=_auth(settings, ASSISTANT), timeout=30)
        officer = httpx.AsyncClient(base_url=url, headers=_auth(settings, OFFICER), timeout=30)
        coordinator = httpx.AsyncClient(
            base_url=url, headers=_auth(settings, COORDINATOR), timeout=30
        )
        async with assistant, officer, coordinator:
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


def _auth(settings, actor) -> dict[str, str]:
    from tests.conftest import Stack

    return Stack("", settings).headers(actor)


async def test_an_emergency_is_paid_once_when_the_worker_dies_after_the_bank_took_the_transfer(
    processes,
):
    from tests.support import APPROVER
    from tests.test_reserve_under_load import emergency

    settings = processes.settings
    payment = settings.payment_url
    faults = payment.rsplit("/", 1)[0] + "/_faults"
    with serve(create_app(settings)) as url:
        assistant = httpx.AsyncClient(base_url=url, headers=_auth(settings, ASSISTANT), timeout=30)
        approver = httpx.AsyncClient(base_url=url, headers=_auth(settings, APPROVER), timeout=30)
        async with assistant, approver:
            body = emergency(1) | {"township": "370305001", "village": "370305001002"}
            case_no = (await assistant.post("/emergencies", json=body)).json()["case_no"]
            before = (await approver.get("/townships/370305001/reserve")).json()
            # The payment system takes the transfer, then its answer is lost with the worker.
            httpx.post(faults, json={"service": "payment", "delay_next": 1, "delay_seconds": 120})
            approved = await approver.post(
                f"/emergencies/{case_no}/approval", json={"amount": "2000"}
            )
            assert approved.status_code == 200, approved.text
            for _ in range(100):
                if httpx.get(f"{payment}/transfers", params={"case_no": case_no}).json():
                    break
                await asyncio.sleep(0.1)
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
