"""Workflow and activity workers run as separate processes; an activity worker stopped with
SIGTERM in the middle of a payment finishes it before it leaves, and the case goes on with the
next worker: paid once, nothing lost."""

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import EventType

from api.main import create_app
from settings import Settings
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.api import application, eventually, survey, wait_for
from tests.helpers.servers import serve
from tests.helpers.stack import Stack
from worker import create_worker


def activity_worker(settings: Settings, *, grace_seconds: float, log: Path) -> subprocess.Popen:
    """``python worker.py`` running the activities only, as a deployment would start it."""
    env = os.environ | {
        "JIUZHU_WORKER_RUNS": "activities",
        "JIUZHU_WORKER_SHUTDOWN_GRACE_SECONDS": str(grace_seconds),
        "JIUZHU_TEMPORAL_ADDRESS": settings.temporal_address,
        "JIUZHU_DATABASE_URL": settings.database_url,
        "JIUZHU_TASK_QUEUE": settings.task_queue,
        "JIUZHU_PAYMENT_URL": settings.payment_url,
        "JIUZHU_SMS_URL": settings.sms_url,
        "JIUZHU_VERIFICATION_URL": settings.verification_url,
        "JIUZHU_LOG_FORMAT": "json",
    }
    with log.open("w") as lines:
        return subprocess.Popen([sys.executable, "worker.py"], env=env, stderr=lines)


async def test_a_worker_stopped_mid_payment_finishes_it_and_the_next_one_goes_on(
    dev_env, api_settings, simulator_url, tmp_path
):
    workflows_only = api_settings.model_copy(update={"worker_runs": "workflows"})
    worker, external = create_worker(dev_env.client, workflows_only)
    first = activity_worker(api_settings, grace_seconds=20, log=tmp_path / "first.log")
    second = None
    try:
        async with worker:
            with serve(create_app(api_settings)) as url:
                stack = Stack(url, api_settings)
                async with (
                    stack.client(ASSISTANT) as assistant,
                    stack.client(COORDINATOR) as coordinator,
                    stack.client(OFFICER) as officer,
                    httpx.AsyncClient(base_url=simulator_url, timeout=30) as simulators,
                ):
                    created = await assistant.post("/applications", json=application())
                    assert created.status_code == 201, created.text
                    case_no = created.json()["case_no"]
                    await coordinator.post(f"/applications/{case_no}/survey", json=survey())
                    await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
                    await assistant.post(
                        f"/applications/{case_no}/review",
                        json={"recommendation": "approve", "reasons": "收入低于标准"},
                    )
                    await wait_for(assistant, case_no, lambda c: c["stage"] == "decision")

                    # The bank takes the transfer at once and answers 4 seconds later.
                    armed = await simulators.post(
                        "/_faults",
                        json={"service": "payment", "delay_next": 1, "delay_seconds": 4},
                    )
                    assert armed.status_code == 204
                    decided = await officer.post(
                        f"/applications/{case_no}/decision",
                        json={"outcome": "approve", "reasons": "符合条件"},
                    )
                    assert decided.status_code == 200, decided.text

                    async def transfers() -> list:
                        answer = await simulators.get(
                            "/payment/transfers", params={"case_no": case_no}
                        )
                        return answer.json()

                    await eventually(transfers, bool)  # the payment is under way
                    stopped_at = datetime.now(UTC)
                    first.send_signal(signal.SIGTERM)
                    code = await asyncio.to_thread(first.wait, 30)
                    log = (tmp_path / "first.log").read_text()
                    assert code == 0, log
                    assert "worker.stopping" in log

                    # The next worker takes what follows (recording the payment, the SMS).
                    second = activity_worker(
                        api_settings, grace_seconds=20, log=tmp_path / "second.log"
                    )
                    case = await wait_for(
                        assistant, case_no, lambda c: c["first_payment_at"] is not None, 30
                    )
                    assert case["stage"] == "approved"
                    assert len(await transfers()) == 1  # paid once

        # The payment was finished by the worker that was stopped: one attempt, completed.
        history = await dev_env.client.get_workflow_handle(f"application-{case_no}").fetch_history()
        payments = {
            e.event_id
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_type.name == "make_payment"
        }
        started = [
            e.activity_task_started_event_attributes
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            and e.activity_task_started_event_attributes.scheduled_event_id in payments
        ]
        completed = [
            e
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            and e.activity_task_completed_event_attributes.scheduled_event_id in payments
        ]
        assert [s.attempt for s in started] == [1] and len(completed) == 1
        # ... by that worker, which heard SIGTERM while the call was still waiting for the bank.
        [done] = completed
        assert started[0].identity.startswith(f"{first.pid}@"), started[0].identity
        assert done.event_time.ToDatetime(tzinfo=UTC) > stopped_at
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.kill()
                process.wait()
        await external.close()
        httpx.delete(f"{simulator_url}/_faults")
