"""``make run``'s embedded stack: it starts, serves a case, stops, and starts again with the
case where it was."""

import httpx
import pytest

from settings import Settings
from stack import EmbeddedStack
from tests.conftest import Stack
from tests.support import ASSISTANT, free_port
from tests.test_api import application


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
    try:
        stack.start()
        created = httpx.post(f"{api}/applications", json=application(), headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        assert httpx.get(f"{api}/docs").status_code == 200
    finally:
        stack.stop()
    assert all(process.poll() is not None for _, process in stack.processes)

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
