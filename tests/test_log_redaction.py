"""No log line carries a family's ID, mobile or bank account number in full: not our events,
not a library's (uvicorn's access log writes whatever a user put in a URL), not an exception.
The first test drives cases through the real API and worker and reads every line they wrote."""

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from api.main import create_app
from domain.identity import mask_id_number, mask_phone
from logs import configure_logging
from tests.conftest import Stack
from tests.support import ASSISTANT, COORDINATOR, OFFICER, id_number, serve
from tests.test_api import application, survey, wait_for
from worker import create_worker


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Where every process's lines go during the test: the root logger's one handler."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    lines = io.StringIO()
    yield lines
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_driving_a_case_to_its_payment_writes_no_personal_number(
    dev_env, api_settings, log_lines
):
    applicant = {"name": "张三", "id_number": id_number(), "phone": "13712345601"}
    member = {"name": "李四", "id_number": id_number("19820202"), "relation": "spouse"}
    account = "6217000012345678901"
    body = application(
        applicant=applicant,
        household=[member],
        bank_account={"bank": "齐商银行", "account_no": account, "holder": "张三"},
    )

    def api():
        # As `uvicorn --factory api.main:app` does: logging set up after uvicorn's own.
        configure_logging(fmt="json", level="DEBUG", process="api", stream=log_lines)
        return create_app(api_settings)

    worker, external = create_worker(dev_env.client, api_settings)
    async with worker:
        with serve(api, factory=True, log_level="info") as url:
            stack = Stack(url, api_settings)
            async with (
                stack.client(ASSISTANT) as assistant,
                stack.client(COORDINATOR) as coordinator,
                stack.client(OFFICER) as officer,
            ):
                created = await assistant.post("/applications", json=body)
                assert created.status_code == 201, created.text
                case_no = created.json()["case_no"]
                # A URL is anything a user types: the access log must not keep it whole.
                await assistant.get(
                    "/applications", params={"q": applicant["id_number"], "tel": applicant["phone"]}
                )
                surveyed = await coordinator.post(f"/applications/{case_no}/survey", json=survey())
                assert surveyed.status_code == 200, surveyed.text
                await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
                await assistant.post(
                    f"/applications/{case_no}/review",
                    json={"recommendation": "approve", "reasons": f"电话{applicant['phone']}核实"},
                )
                await wait_for(assistant, case_no, lambda c: c["stage"] == "decision")
                await officer.post(
                    f"/applications/{case_no}/decision",
                    json={"outcome": "approve", "reasons": "符合条件"},
                )
                await wait_for(officer, case_no, lambda c: c["first_payment_at"] is not None)
                # An ID number that fails its check digit is refused, and not logged whole.
                wrong = {**applicant, "id_number": applicant["id_number"][:-1] + "Y"}
                refused = await assistant.post("/applications", json={**body, "applicant": wrong})
                assert refused.status_code == 422
    await external.close()

    text = log_lines.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    events = {line["event"] for line in lines}
    # The lines were written: the case's own events, the worker's and the access log.
    assert {"case.accepted", "case.paid", "case.applicant_notified"} <= events, events
    assert any(case_no in line for line in text.splitlines())
    assert any("GET /applications?" in line["event"] for line in lines), events
    for number in (applicant["id_number"], member["id_number"], applicant["phone"], account):
        assert number not in text, number
    # The access log line is there, with the numbers masked.
    assert mask_id_number(applicant["id_number"]) in text
    assert mask_phone(applicant["phone"]) in text


def test_exceptions_and_other_libraries_lines_are_masked_too(log_lines):
    configure_logging(fmt="console", level="INFO", stream=log_lines)
    number, phone, account = id_number(), "13912345678", "6222021234567890123"
    log = structlog.get_logger()
    log.info("payee", payee_id_number=number, account={"account_no": "12345678"})
    try:
        raise ValueError(f"the bank said: {account} of {number} is closed")
    except ValueError:
        log.exception("payment.failed", case_no="370305-2026-000001")
        logging.getLogger("some.library").exception("call failed for %s", phone)
    text = log_lines.getvalue()
    for whole in (number, phone, account, "12345678"):
        assert whole not in text, whole
    assert text.count(mask_id_number(number)) == 3  # the field and both tracebacks
    assert "****0123" in text and mask_phone(phone) in text
    assert "370305-2026-000001" in text and "ValueError" in text
