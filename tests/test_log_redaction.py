"""No log line carries a family's ID, mobile or bank account number in full: not our events,
not a library's (uvicorn's access log writes whatever a user put in a URL), not an exception.
The first test drives cases through the real API and worker and reads every line they wrote."""

import json
import logging

import structlog

from api.main import create_app
from domain.identity import mask_id_number, mask_phone
from logs import configure_logging
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.api import application, survey, wait_for
from tests.helpers.people import id_number
from tests.helpers.servers import serve
from tests.helpers.stack import Stack
from worker import create_worker


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


def test_a_huge_traceback_is_logged_bounded_naming_what_was_raised(log_lines):
    configure_logging(fmt="json", level="INFO", stream=log_lines)
    number = id_number()

    def deeper(levels: int) -> None:
        if levels == 0:
            raise RecursionError(f"too deep for {number}")
        deeper(levels - 1)

    try:
        deeper(800)
    except RecursionError:
        structlog.get_logger().exception("api.error", path="/codec/decode", said="x" * 50_000)
    [line] = log_lines.getvalue().splitlines()
    assert len(line) < 8000, len(line)
    logged = json.loads(line)
    assert logged["event"] == "api.error" and logged["path"] == "/codec/decode"
    assert "characters left out" in logged["said"] and len(logged["said"]) < 2100
    # Where it began, and how it ended: what was raised, masked.
    assert logged["exception"].startswith("Traceback (most recent call last):")
    assert logged["exception"].endswith(f"RecursionError: too deep for {mask_id_number(number)}")
    assert number not in line


async def test_an_unexpected_error_is_answered_500_logged_once_and_the_connection_goes_on(
    api_settings, log_lines, monkeypatch
):
    def broken(*_args, **_kwargs):
        def deeper(levels: int) -> None:
            if levels:
                deeper(levels - 1)
            raise RuntimeError("the policy cannot be read")

        deeper(800)

    monkeypatch.setattr("api.routes.policy.temporary_band", broken)

    def api():
        configure_logging(fmt="json", level="INFO", process="api", stream=log_lines)
        return create_app(api_settings)

    with serve(api, factory=True, log_level="info") as url:
        stack = Stack(url, api_settings)
        # One client, one kept-alive connection.
        async with stack.client(ASSISTANT) as http:
            failed = await http.get("/policy")
            assert failed.status_code == 500
            assert "tell the system administrator" in failed.json()["detail"]
            assert (await http.get("/townships")).status_code == 200
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    errors = [line for line in lines if line.get("level") == "error"]
    assert [line["event"] for line in errors] == ["api.error"], errors
    assert errors[0]["path"] == "/policy"
    assert "RuntimeError: the policy cannot be read" in errors[0]["exception"]
    assert len(log_lines.getvalue()) < 8000
