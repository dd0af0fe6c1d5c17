"""The lifecycle tried as a hostile user would: bursts of intakes, oversized and odd bodies,
misspelt fields, reused keys, forged jurisdictions. Each test reproduces an attack that once
froze the API, killed a case or slipped through, and checks what a user sees now."""

import asyncio
import json
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

import api.idempotency
import store.idempotency
from api.main import create_app
from domain.cases import Actor, Role
from logs import configure_logging
from store.db import Database, session_scope
from store.tables import CaseRecord, IdempotencyRecord
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER, SUPERVISOR
from tests.helpers.api import application, survey, wait_for
from tests.helpers.people import id_number
from tests.helpers.servers import serve
from tests.helpers.stack import CONVERTER, TEMPORAL, Stack, watch_halted_now
from watches.halted import mark_halted_cases
from worker import create_worker
from workflows.client import application_workflow_id
from workflows.search import ALL_KEYS

# --- 1. a burst of intakes, duplicates among them -------------------------------------------


async def test_fifty_concurrent_intakes_are_all_answered_within_seconds(stack_on_each_database):
    stack = stack_on_each_database
    households = [application() for _ in range(5)]
    bodies = [households[i % 5] for i in range(30)] + [application() for _ in range(20)]
    async with stack.client(ASSISTANT) as http:
        health: list[float] = []
        done = asyncio.Event()

        async def watch_health() -> None:
            while not done.is_set():
                began = time.monotonic()
                assert (await http.get("/health")).status_code == 200
                health.append(time.monotonic() - began)
                await asyncio.sleep(0.02)

        async def intake(body: dict) -> httpx.Response:
            key = {"Idempotency-Key": str(uuid.uuid4())}
            return await http.post("/applications", json=body, headers=key)

        watcher = asyncio.create_task(watch_health())
        began = time.monotonic()
        answers = await asyncio.gather(*(intake(b) for b in bodies))
        elapsed = time.monotonic() - began
        done.set()
        await watcher

    assert all(a.status_code in (201, 409) for a in answers), [
        (a.status_code, a.text) for a in answers
    ]
    for household in households:
        mine = [a for a, b in zip(answers, bodies, strict=True) if b is household]
        created = [a.json()["case_no"] for a in mine if a.status_code == 201]
        assert len(created) == 1, [a.text for a in mine]
        assert all(created[0] in a.json()["detail"] for a in mine if a.status_code == 409)
    assert all(a.status_code == 201 for a in answers[30:])
    assert elapsed < 15, f"50 intakes took {elapsed:.1f}s"
    # Answered while the burst runs, not queued behind it (on a loaded machine a probe may
    # still wait a moment for a core).
    assert max(health) < max(2, elapsed / 3), f"/health waited {max(health):.1f}s in the burst"
    with session_scope(stack.settings.database_url) as session:
        assert len(session.exec(select(CaseRecord.case_no)).all()) == 25


# --- 2 and 3. oversized and odd input ---------------------------------------------------------


async def test_an_oversized_body_is_refused_before_it_is_read(stack):
    async with stack.client(ASSISTANT) as http:
        case_no = (await http.post("/applications", json=application())).json()["case_no"]
        began = time.monotonic()
        huge = await http.post(
            f"/applications/{case_no}/documents-requested",
            json={"documents": ["户口簿"], "note": "x" * 2_500_000},
        )
        assert huge.status_code == 413 and "KiB" in huge.json()["detail"]
        assert time.monotonic() - began < 2

        # Streamed without a length, the body is counted as it arrives.
        async def chunks():
            yield b'{"documents": ["a"], "note": "'
            for _ in range(100):
                yield b"y" * 10_000
            yield b'"}'

        streamed = await http.post(
            f"/applications/{case_no}/documents-requested",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert streamed.status_code == 413
        many = {"investigators": [f"调查员{i}" for i in range(60_000)], "visited_on": "2026-01-01",
                "findings": "x", "assessed_monthly_income": "0"}  # fmt: skip
        assert (await http.post(f"/applications/{case_no}/survey", json=many)).status_code == 413
        crowd = application(
            household=[{"name": "某", "id_number": id_number("19900101"), "relation": "x"}] * 25_000
        )
        assert (await http.post("/applications", json=crowd)).status_code == 413

        case = (await http.get(f"/applications/{case_no}")).json()
        assert case["stage"] == "survey" and case["pending_documents"] == []


async def test_every_string_and_list_has_a_bound_named_in_the_answer(stack):
    async with stack.client(ASSISTANT) as http:
        case_no = (await http.post("/applications", json=application())).json()["case_no"]
        attempts = {
            "documents-requested": (
                {"documents": ["户口簿"], "note": "注" * 2001},
                ["body", "note"],
            ),
            "survey": (
                survey() | {"investigators": [f"员{i}" for i in range(11)]},
                ["body", "investigators"],
            ),
        }
        for action, (body, loc) in attempts.items():
            answer = await http.post(f"/applications/{case_no}/{action}", json=body)
            assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == loc, (
                answer.text
            )
        many_documents = {"documents": [f"材料{i}" for i in range(21)]}
        answer = await http.post(
            f"/applications/{case_no}/documents-requested", json=many_documents
        )
        assert answer.json()["detail"][0]["loc"] == ["body", "documents"]

        household = [
            {"name": f"成员{i}", "id_number": id_number("19900101"), "relation": "子女"}
            for i in range(31)
        ]
        answer = await http.post("/applications", json=application(household=household))
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == [
            "body",
            "household",
        ]

        trail = (await http.get(f"/applications/{case_no}/audit-trail")).json()
        assert [e["action"] for e in trail if e["user_id"] != "system"] == ["accepted"]


async def test_a_lone_surrogate_is_refused_and_no_id_number_reaches_a_log(
    dev_env, api_settings, log_lines
):
    body = application()
    secret = body["applicant"]["id_number"]
    raw = json.dumps(body | {"reason": "PLACEHOLDER"}, ensure_ascii=True).replace(
        "PLACEHOLDER", "\\ud800"
    )
    also_bad_phone = json.loads(json.dumps(body))
    also_bad_phone["applicant"]["phone"] = "12345"
    raw_two = json.dumps(also_bad_phone | {"reason": "PLACEHOLDER"}, ensure_ascii=True).replace(
        "PLACEHOLDER", "\\ud800"
    )

    def api():
        # As `uvicorn --factory api.main:app` does: logging set up after uvicorn's own.
        configure_logging(fmt="json", level="DEBUG", process="api", stream=log_lines)
        return create_app(api_settings)

    worker, external = create_worker(dev_env.client, api_settings)
    async with worker:
        with serve(api, factory=True, log_level="info") as url:
            async with Stack(url, api_settings).client(ASSISTANT) as http:
                for content in (raw, raw_two):
                    answer = await http.post(
                        "/applications",
                        content=content,
                        headers={"Content-Type": "application/json"},
                    )
                    assert answer.status_code == 422, answer.text
                    assert ["body", "reason"] in [p["loc"] for p in answer.json()["detail"]]
                    assert secret not in answer.text
                # Nothing was written: the household can still apply.
                created = await http.post("/applications", json=body)
                assert created.status_code == 201, created.text
    await external.close()
    text = log_lines.getvalue()
    # The requests were logged (the two refusals and the intake) ...
    refused = [line for line in text.splitlines() if "POST /applications" in line and "422" in line]
    assert len(refused) == 2, text
    assert created.json()["case_no"] in text
    # ... and not the number.
    assert secret not in text


async def test_a_misspelt_field_is_refused_naming_it(stack):
    declared = {"related_person": "李协理", "position": "village_committee", "relation": "兄弟"}
    body = application() | {"conflict_of_interests": declared}
    async with stack.client(ASSISTANT) as http:
        answer = await http.post("/applications", json=body)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "conflict_of_interests"]
        assert "spelling" in answer.json()["detail"][0]["msg"]
        nested = application()
        nested["applicant"]["telephone"] = "13800000000"
        assert (await http.post("/applications", json=nested)).json()["detail"][0]["loc"] == [
            "body", "applicant", "telephone"
        ]  # fmt: skip
        del body["conflict_of_interests"]
        case = await http.post("/applications", json=body | {"conflict_of_interest": declared})
        assert case.status_code == 201 and case.json()["conflict_of_interest"] is True


async def test_a_body_that_is_not_a_json_object_is_refused_saying_what_to_send(stack):
    sent = [
        (b'{"assistance_type": "dibao",', "application/json", 422, "not valid JSON (the error"),
        ('{"applicant": {"name": "张三"}}'.encode("gb18030"), "application/json", 400, "in UTF-8"),
        (b"assistance_type=dibao", "application/x-www-form-urlencoded", 422, "a JSON object"),
        (b"[1, 2]", "application/json", 422, "a JSON object"),
    ]
    async with stack.client(ASSISTANT) as http:
        for body, content_type, status, says in sent:
            answer = await http.post(
                "/applications", content=body, headers={"Content-Type": content_type}
            )
            assert answer.status_code == status, (body, answer.text)
            detail = answer.json()["detail"]
            message = detail if isinstance(detail, str) else detail[0]["msg"]
            assert says in message, (body, message)


# --- 5. an Idempotency-Key belongs to one request ----------------------------------------------


async def test_an_idempotency_key_is_bound_to_the_request_it_came_with(stack):
    key = str(uuid.uuid4())
    first, second = application(), application()
    async with stack.client() as http:
        with_key = stack.headers(ASSISTANT, idempotency_key=key)
        created = await http.post("/applications", json=first, headers=with_key)
        assert created.status_code == 201
        reused = await http.post("/applications", json=second, headers=with_key)
        assert reused.status_code == 422  # in the shape of every 422: the header is named
        [problem] = reused.json()["detail"]
        assert problem["loc"] == ["header", "Idempotency-Key"]
        assert "different request" in problem["msg"]
        fresh = stack.headers(ASSISTANT, idempotency_key=str(uuid.uuid4()))
        assert (await http.post("/applications", json=second, headers=fresh)).status_code == 201

        # A refused request does not keep its answer: the corrected retry with the key runs.
        retry_key = stack.headers(ASSISTANT, idempotency_key=str(uuid.uuid4()))
        third = application()
        wrong = json.loads(json.dumps(third))
        wrong["applicant"]["phone"] = "123"
        assert (await http.post("/applications", json=wrong, headers=retry_key)).status_code == 422
        corrected = await http.post("/applications", json=third, headers=retry_key)
        assert corrected.status_code == 201 and "Idempotent-Replayed" not in corrected.headers
        again = await http.post("/applications", json=third, headers=retry_key)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["case_no"] == corrected.json()["case_no"]

    with session_scope(stack.settings.database_url) as session:
        stored = session.exec(select(IdempotencyRecord)).all()
    assert stored and all(r.status_code is None or 200 <= r.status_code < 300 for r in stored)
    for person in (first, second, third):
        assert all(
            person["applicant"]["id_number"] not in (r.body or "") + r.fingerprint for r in stored
        )


async def test_an_empty_or_too_long_idempotency_key_is_a_422_naming_the_header(stack):
    """Found by the fuzzer: these 422s had a shape of their own, and the schema allowed an
    empty key."""
    async with stack.client() as http:
        schema = (await http.get("/openapi.json")).json()
        for key in ("", "k" * 201):
            headers = stack.headers(ASSISTANT, idempotency_key="x") | {"Idempotency-Key": key}
            refused = await http.post("/applications", json=application(), headers=headers)
            assert refused.status_code == 422, key
            [problem] = refused.json()["detail"]
            assert problem["loc"] == ["header", "Idempotency-Key"]
            assert "1 to 200 characters" in problem["msg"]
    # Every write the middleware keeps an answer for says so in the schema (clients, fuzzers).
    for path, operations in schema["paths"].items():
        for method in ("post", "put"):
            if method not in operations or path.startswith("/codec/"):
                continue
            declared = [
                p
                for p in operations[method].get("parameters", [])
                if p["name"] == "Idempotency-Key"
            ]
            assert declared, f"{method.upper()} {path} does not declare its Idempotency-Key"
            assert {"type": "string", "minLength": 1, "maxLength": 200} in declared[0]["schema"][
                "anyOf"
            ]


async def test_a_claim_left_by_a_dead_request_expires_in_seconds(stack, monkeypatch):
    key = str(uuid.uuid4())
    body = application()

    class Clock(datetime):
        """The idempotency middleware's clock, skipped ahead by ``ahead``."""

        ahead = timedelta(0)

        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + cls.ahead

    monkeypatch.setattr(api.idempotency, "datetime", Clock)
    kept = store.idempotency.settle
    async with stack.client() as http:
        headers = stack.headers(ASSISTANT, idempotency_key=key)
        # The request dies after it took effect and before its answer was kept: its claim
        # stays as the request made it.
        monkeypatch.setattr(store.idempotency, "settle", lambda *_, **__: None)
        answer = await http.post("/applications", json=body, headers=headers)
        assert answer.status_code == 201
        monkeypatch.setattr(store.idempotency, "settle", kept)
        with session_scope(stack.settings.database_url) as session:
            record = session.get(IdempotencyRecord, (ASSISTANT.user_id, key))
            assert record.status_code is None and record.claimed_until is not None
        twin = await http.post("/applications", json=body, headers=headers)
        assert twin.status_code == 409 and "being processed" in twin.json()["detail"]
        Clock.ahead = timedelta(seconds=30)
        twin = await http.post("/applications", json=body, headers=headers)
        assert twin.status_code == 409 and "being processed" in twin.json()["detail"]
        # A minute on, the claim has expired: the retry runs (and finds the household's open
        # case).
        Clock.ahead = timedelta(seconds=60)
        retried = await http.post("/applications", json=body, headers=headers)
        assert retried.status_code == 409 and answer.json()["case_no"] in retried.json()["detail"]


# --- 7. jurisdictions are whole codes ---------------------------------------------------------


async def test_a_token_whose_jurisdiction_is_not_a_whole_code_sees_nothing(stack):
    async with stack.client(ASSISTANT) as assistant:
        case_no = (await assistant.post("/applications", json=application())).json()["case_no"]
    for jurisdiction in ("", "3703", "%", "370305%", "37030500%", "370305_01"):
        forged = Actor(
            user_id="u-x", name="x", role=Role.district_officer, jurisdiction=jurisdiction
        )
        async with stack.client(forged) as http:
            listed = await http.get("/applications")
            assert listed.status_code == 403 and "jurisdiction" in listed.json()["detail"], (
                jurisdiction
            )
            assert (await http.get(f"/applications/{case_no}")).status_code == 403
            assert (await http.get("/notifications")).status_code == 403
    other_village = Actor(
        user_id="u-v", name="v", role=Role.village_coordinator, jurisdiction="370305001002"
    )
    async with stack.client(other_village) as http:
        assert case_no not in await every_listed(http)
    async with stack.client(COORDINATOR) as http:  # the case's own village
        assert case_no in await every_listed(http)


async def every_listed(http) -> list[str]:
    """The numbers of every application the user's list shows, page after page (other tests
    add cases to the shared stack's villages)."""
    numbers, page = [], 1
    while True:
        listed = (await http.get("/applications", params={"page": page, "page_size": 200})).json()
        numbers += [c["case_no"] for c in listed["items"]]
        if page * 200 >= listed["total"]:
            return numbers
        page += 1


async def test_an_authentic_token_with_an_unknown_role_is_403_not_401(stack):
    token = jwt.encode(
        {"sub": "u-x", "role": "mayor", "jurisdiction": "370305",
         "exp": datetime.now(UTC) + timedelta(hours=1)},
        stack.settings.jwt_secret,
        algorithm="HS256",
    )  # fmt: skip
    async with httpx.AsyncClient(
        base_url=stack.url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        answer = await http.get("/applications")
    assert answer.status_code == 403 and "role" in answer.json()["detail"]


# --- 9. validation gaps -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda b: b["applicant"].update(name="   "), ["body", "applicant", "name"]),
        (lambda b: b.update(reason=" \t\n"), ["body", "reason"]),
        (lambda b: b.update(reason="a\x00b"), ["body", "reason"]),  # PostgreSQL cannot keep NUL
        (
            lambda b: b["applicant"].update(id_number=id_number("20990101")),
            ["body", "applicant", "id_number"],
        ),
        (
            lambda b: b["applicant"].update(id_number=id_number(region="000000")),
            ["body", "applicant", "id_number"],
        ),
        (
            lambda b: b["household"].append(
                dict(b["household"][0], id_number=b["applicant"]["id_number"])
            ),
            ["body", "household"],
        ),
    ],
    ids=[
        "blank name",
        "blank reason",
        "NUL",
        "born in 2099",
        "region 000000",
        "own ID in the household",
    ],
)
async def test_values_that_cannot_be_right_are_422_naming_the_field(stack, change, loc):
    body = application()
    change(body)
    async with stack.client(ASSISTANT) as http:
        answer = await http.post("/applications", json=body)
    assert answer.status_code == 422, answer.text
    assert loc in [p["loc"] for p in answer.json()["detail"]]


async def test_a_district_approving_a_proposed_refusal_sends_it_to_notice(stack):
    async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
        case_no = (await assistant.post("/applications", json=application())).json()["case_no"]
        await assistant.post(f"/applications/{case_no}/survey", json=survey())
        await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
        await assistant.post(
            f"/applications/{case_no}/review",
            json={"recommendation": "refuse", "reasons": "有车辆"},
        )
        answer = await officer.post(
            f"/applications/{case_no}/decision",
            json={"outcome": "approve", "reasons": "车辆已报废"},
        )
        assert answer.status_code == 200 and answer.json()["stage"] == "notice"
        assert answer.json()["notice_started_at"] and answer.json()["decided_at"] is None


# --- 2. no caseworker can kill a case -------------------------------------------------------


@pytest.fixture(scope="module")
async def short_history_env():
    """A dev server that suggests continue-as-new after 150 events (the default is thousands)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL),
        data_converter=CONVERTER,
        search_attributes=ALL_KEYS,
        dev_server_extra_args=[
            "--headless", "--log-level", "error",
            "--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=150",
        ],
    )  # fmt: skip
    yield env
    await env.shutdown()


async def test_repeated_actions_cannot_grow_a_case_until_the_server_kills_it(
    short_history_env, api_settings, tmp_path
):
    settings = api_settings.model_copy(
        update={"temporal_address": short_history_env.client.service_client.config.target_host}
    )
    note = "备注" * 1000  # the longest note there is
    worker, external = create_worker(short_history_env.client, settings)
    async with worker:
        with serve(create_app(settings)) as url:
            stack = Stack(url, settings)
            async with stack.client(ASSISTANT) as http:
                case_no = (await http.post("/applications", json=application())).json()["case_no"]
                for _ in range(30):
                    asked = await http.post(
                        f"/applications/{case_no}/documents-requested",
                        json={"documents": ["户口簿"], "note": note},
                    )
                    assert (
                        asked.status_code == 200 and asked.json()["stage"] == "awaiting_documents"
                    ), asked.text
                    received = await http.post(
                        f"/applications/{case_no}/documents-received", json={"note": note}
                    )
                    assert received.status_code == 200 and received.json()["stage"] == "survey", (
                        received.text
                    )

                handle = short_history_env.client.get_workflow_handle(
                    application_workflow_id(case_no)
                )
                runs, run_id = 0, None
                while True:  # walk the chain of runs back to the first
                    history = await short_history_env.client.get_workflow_handle(
                        handle.id, run_id=run_id
                    ).fetch_history()
                    assert len(history.events) < 250
                    runs += 1
                    run_id = history.events[
                        0
                    ].workflow_execution_started_event_attributes.continued_execution_run_id
                    if not run_id:
                        break
                assert runs >= 4, runs

                # The case carried on whole: its trail is complete, and it moves on.
                trail = (await http.get(f"/applications/{case_no}/audit-trail")).json()
                assert [e["seq"] for e in trail] == list(range(len(trail)))
                assert [e["action"] for e in trail].count("documents_received") == 30
                case = (await http.get(f"/applications/{case_no}")).json()
                assert case["stage"] == "survey" and case["verification"] is not None
                listed = (await http.get("/applications", params={"stage": "survey"})).json()[
                    "items"
                ]
                assert case_no in [c["case_no"] for c in listed]
                assert (
                    await http.post(f"/applications/{case_no}/survey", json=survey())
                ).status_code == 200
                await wait_for(http, case_no, lambda c: c["stage"] == "review")
    await external.close()


async def test_a_case_whose_workflow_the_engine_stopped_is_never_shown_as_open(stack, dev_env):
    db = Database(stack.settings.database_url)
    async with stack.client(ASSISTANT) as http:
        acted_on, watched = application(), application()
        first = (await http.post("/applications", json=acted_on)).json()["case_no"]
        second = (await http.post("/applications", json=watched)).json()["case_no"]
        since = datetime.now(UTC) - timedelta(minutes=1)
        for case_no in (first, second):
            await dev_env.client.get_workflow_handle(application_workflow_id(case_no)).terminate(
                "operator"
            )

        # An action is refused at once, and says what comes next; a request writes nothing
        # to the records (the watch does) ...
        refused = await http.post(f"/applications/{first}/withdrawal", json={"reason": "x"})
        assert refused.status_code == 409, refused.text
        assert "stopped" in refused.json()["detail"]
        assert "the watch marks it halted" in refused.json()["detail"]
        assert (await http.get(f"/applications/{first}")).json()["stage"] == "survey"
        # ... and the worker's watch halts them both.
        marked: set[str] = set()
        for _ in range(50):
            marked |= set(await mark_halted_cases(dev_env.client, db, since=since))
            if marked >= {first, second}:
                break
            await asyncio.sleep(0.1)
        for case_no in (first, second):
            case = (await http.get(f"/applications/{case_no}")).json()
            assert case["stage"] == "halted" and case["closed_at"]
            open_ones = (await http.get("/applications", params={"stage": "survey"})).json()[
                "items"
            ]
            assert case_no not in [c["case_no"] for c in open_ones]
            trail = (await http.get(f"/applications/{case_no}/audit-trail")).json()
            assert trail[-1]["action"] == "case_halted" and "terminated" in trail[-1]["note"]
        assert await mark_halted_cases(dev_env.client, db, since=since) == []  # once only

        # The family's claim stays until a supervisor closes the case (nothing was paid).
        again = await http.post("/applications", json=acted_on)
        assert again.status_code == 409 and first in again.json()["detail"]
        assert first in await watch_halted_now(dev_env.client, stack.settings)
        async with stack.client(SUPERVISOR) as supervisor:
            closed = await supervisor.post(
                f"/supervision/cases/{first}/close", json={"reason": "申请人已搬离本区"}
            )
        assert closed.status_code == 200 and closed.json()["stage"] == "closed_by_supervisor"
        assert (await http.post("/applications", json=acted_on)).status_code == 201


async def test_records_locked_past_the_busy_time_out_answer_503_to_a_keyed_request(
    dev_env, settings
):
    """The idempotency middleware runs outside the app's error handlers: a database it cannot
    write to is a 503 "try again", never a 500."""
    settings = settings.model_copy(
        update={"temporal_address": dev_env.client.service_client.config.target_host}
    )
    holder = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    with serve(create_app(settings)) as url:
        async with Stack(url, settings).client(ASSISTANT) as assistant:
            holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock, past 10 s
            try:
                answer = await assistant.post(
                    "/applications",
                    json=application(),
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                    timeout=60,
                )
            finally:
                holder.rollback()
                holder.close()
    assert answer.status_code == 503, answer.text
    assert "try again" in answer.json()["detail"]
