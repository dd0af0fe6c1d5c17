"""``make run``'s embedded stack: it starts, serves a case, stops, and starts again with the
case where it was; a part that dies is restarted alone while the others serve."""

import signal
import time

import httpx
import pytest
from structlog.testing import capture_logs

from settings import Settings
from stack import EmbeddedStack, next_delay
from tests.helpers.actors import ASSISTANT
from tests.helpers.api import application
from tests.helpers.servers import free_port
from tests.helpers.stack import Stack


@pytest.fixture
def stack_settings(tmp_path, monkeypatch) -> Settings:
    """The stack's processes read their settings from the environment, like `make run`."""
    simulators = f"http://127.0.0.1:{free_port()}"
    env = {
        "JIUZHU_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "JIUZHU_API_PORT": str(free_port()),
        "JIUZHU_DATABASE_URL": f"sqlite:///{tmp_path / 'jiuzhu.db'}",
        "JIUZHU_PAYMENT_URL": f"{simulators}/payment",
        "JIUZHU_SMS_URL": f"{simulators}/sms",
        "JIUZHU_VERIFICATION_URL": f"{simulators}/verification",
        "JIUZHU_LOG_LEVEL": "WARNING",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_the_stack_keeps_its_cases_across_a_restart(tmp_path, stack_settings):
    api = f"http://{stack_settings.api_host}:{stack_settings.api_port}"
    headers = Stack(api, stack_settings).headers(ASSISTANT)

    stack = EmbeddedStack(stack_settings, var=tmp_path / "var")
    body = application()
    try:
        stack.start()
        created = httpx.post(f"{api}/applications", json=body, headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        assert httpx.get(f"{api}/docs").status_code == 200
        # The Web UI sends payloads to the API's codec endpoint to decrypt them.
        ui = f"http://127.0.0.1:{int(stack_settings.temporal_address.rsplit(':', 1)[1]) + 1000}"
        codec = httpx.get(f"{ui}/api/v1/settings", timeout=30).json()["Codec"]
        assert codec["Endpoint"] == f"{api}/codec"
    finally:
        stack.stop()
    assert all(process.poll() is not None for _, process in stack.processes)
    # The Temporal server's own database holds the case encrypted: no ID number, phone, name
    # or account in clear, in the file or its write-ahead log.
    stored = b"".join(f.read_bytes() for f in (tmp_path / "var").glob("temporal.db*"))
    assert b"binary/encrypted" in stored  # the payloads are there, readable but for their data
    people = [body["applicant"], *body["household"]]
    secrets = [p["id_number"] for p in people] + [p["name"] for p in people]
    secrets += [body["applicant"]["phone"], body["bank_account"]["account_no"]]
    assert not [s for s in secrets if s.encode() in stored]

    again = EmbeddedStack(stack_settings, var=tmp_path / "var")
    try:
        again.start()
        case_no = created.json()["case_no"]
        case = httpx.get(f"{api}/applications/{case_no}", headers=headers, timeout=30)
        assert case.status_code == 200 and case.json()["stage"] == "survey"
        # The workflow itself came back (an action reaches it), not only the case records.
        paused = httpx.post(
            f"{api}/applications/{case_no}/documents-requested",
            json={"documents": ["户口簿"]},
            headers=headers,
            timeout=30,
        )
        assert paused.status_code == 200 and paused.json()["stage"] == "awaiting_documents"
        assert (tmp_path / "var" / "temporal.db").exists()
    finally:
        again.stop()


def test_a_part_that_dies_is_restarted_alone_while_the_others_serve(tmp_path, stack_settings):
    api = f"http://{stack_settings.api_host}:{stack_settings.api_port}"
    headers = Stack(api, stack_settings).headers(ASSISTANT)

    stack = EmbeddedStack(stack_settings, var=tmp_path / "var")
    try:
        stack.start()
        created = httpx.post(f"{api}/applications", json=application(), headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        case_no = created.json()["case_no"]
        before = dict(stack.processes)
        worker = before["worker"]

        with capture_logs() as logs:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            stack.supervise_once()
        exited = [entry for entry in logs if entry["event"] == "stack.part_exited"]
        assert [(entry["part"], entry["code"]) for entry in exited] == [("worker", -9)], logs

        # The worker is down and the rest of the stack still serves (the case from its projection).
        assert httpx.get(f"{api}/health", timeout=10).status_code == 200
        case = httpx.get(f"{api}/applications/{case_no}", headers=headers, timeout=30)
        assert case.status_code == 200 and case.json()["stage"] == "survey"

        deadline = time.monotonic() + 30
        while dict(stack.processes)["worker"] is worker:
            assert time.monotonic() < deadline, "the worker was not restarted"
            stack.supervise_once()
            time.sleep(0.1)
        after = dict(stack.processes)
        assert after["worker"].poll() is None and after["worker"].pid != worker.pid
        # Only the worker was restarted.
        assert all(after[name] is process and process.poll() is None
                   for name, process in before.items() if name != "worker")  # fmt: skip

        # The restarted worker carries the case on.
        paused = httpx.post(
            f"{api}/applications/{case_no}/documents-requested",
            json={"documents": ["户口簿"]},
            headers=headers,
            timeout=30,
        )
        assert paused.status_code == 200 and paused.json()["stage"] == "awaiting_documents"
    finally:
        stack.stop()
    assert all(process.poll() is not None for _, process in stack.processes)


def test_the_restart_back_off_doubles_up_to_a_cap_and_starts_again_after_a_steady_run():
    delays = [next_delay(None, up_for=0)]
    for _ in range(6):
        delays.append(next_delay(delays[-1], up_for=2))
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert next_delay(30, up_for=60) == 1
