"""The whole OpenAPI surface, fuzzed over real HTTP (schemathesis).

A stack of its own (API, worker, the Temporal dev server, a database of its own) with real
cases in it. For every operation of the API's own /openapi.json, requests generated from the
schema (valid and invalid ones) are sent as every role, as a user of another township and as
nobody, with real case numbers, township codes and years as path parameters most of the time.

It proves that no request is answered with a server error (5xx), that every answer is a
documented status or a 4xx, in the documented shape; and that no request wrote half a change:
afterwards every case record has its workflow and no engine problem, every household claim
its case, the audit trail verifies, each reserve's balance is the sum of its ledger, and no
Idempotency-Key is left claimed by a request that never finished.

Repeatable: generation is derandomized, and Hypothesis keeps no example database.
"""

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlmodel import func, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.calendar import local_date
from domain.cases import Actor
from domain.policy import Policy
from domain.reserve import EntryKind
from settings import Settings
from store.db import session_scope
from store.migrate import upgrade
from store.tables import (
    CaseCounter,
    CaseRecord,
    EmergencyRecord,
    HouseholdClaim,
    IdempotencyRecord,
    ReserveEntry,
    TownshipReserve,
)
from tests.conftest import Stack, running_stack
from tests.test_api import application
from tests.test_emergency_api import emergency
from tests.test_permissions import (
    AWAY,
    HOME,
    HOME_ACTORS,
    HOME_VILLAGE,
    LOCAL_ACTORS,
    SUP,
    TA,
    TP,
    actor,
)
from workflows.client import application_workflow_id, emergency_workflow_id

EXAMPLES_PER_OPERATION = 60
"""Generated requests per operation (fewer where the schema allows fewer): about 2,400 in all."""

USERS: list[Actor | None] = [
    *HOME_ACTORS.values(),
    *LOCAL_ACTORS.values(),
    actor(TA, AWAY),  # a township's assistant, for whom the other township's cases are outside
    None,  # nobody signed in
]


@dataclass
class World:
    stack: Stack
    temporal: Client
    applications: list[str]
    emergencies: list[str]
    townships: list[str]
    answers: Counter = field(default_factory=Counter)
    """(operation, status) → how many times it was answered so."""
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
async def world(dev_env, simulator_url, tmp_path_factory) -> AsyncIterator[World]:
    """One stack on a database of its own, with three applications and two emergencies (one of
    them approved and paid, so the reserve's ledger has a hold and its settlement)."""
    # Hypothesis's own files (its caches) go to a temporary directory, not the repository.
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    database = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'jiuzhu.db'}"
    upgrade(database)
    with session_scope(database, writes=True) as session:  # numbers no other test uses
        year = local_date(datetime.now(UTC)).year
        session.add(CaseCounter(year=year, last=random.randrange(10**5, 9 * 10**5)))
    settings = Settings(
        database_url=database,
        temporal_address=dev_env.client.service_client.config.target_host,
        payment_url=f"{simulator_url}/payment",
        sms_url=f"{simulator_url}/sms",
        verification_url=f"{simulator_url}/verification",
        task_queue=f"test-{uuid.uuid4()}",
        policy=Policy(notice_calendar_days=0),
    )
    async with running_stack(dev_env.client, settings) as stack:
        applications, emergencies = [], []
        async with stack.client(HOME_ACTORS[TA]) as assistant:
            for village in (HOME_VILLAGE, f"{HOME}002", f"{HOME}003"):
                created = await assistant.post(
                    "/applications", json=application(township=HOME, village=village)
                )
                assert created.status_code == 201, created.text
                applications.append(created.json()["case_no"])
            for amount in ("1000.00", "1500.00"):
                body = emergency(HOME, HOME_VILLAGE, amount=amount)
                created = await assistant.post("/emergencies", json=body)
                assert created.status_code == 201, created.text
                emergencies.append(created.json()["case_no"])
            townships = [t["code"] for t in (await assistant.get("/townships")).json()]
        async with stack.client(HOME_ACTORS[TP]) as approver:
            approved = await approver.post(
                f"/emergencies/{emergencies[0]}/approval", json={"amount": "1000.00"}
            )
            assert approved.status_code == 200, approved.text
        yield World(stack, dev_env.client, applications, emergencies, townships)


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
"""Schemathesis' own checks: no 5xx; a documented answer has the documented body and type."""


def fuzz_operation(world: World, operation, session: requests.Session) -> None:
    """Send the operation's generated requests; count the answers, collect what is wrong."""
    cases = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE)]
    if operation.path_parameters or operation.query or operation.headers or operation.body:
        cases.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    year = local_date(datetime.now(UTC)).year
    real = {
        "case_no": st.sampled_from(world.applications + world.emergencies),
        "code": st.sampled_from(world.townships),
        "year": st.sampled_from([year, year + 1]),
    }
    documented = {int(code) for code in operation.definition.raw["responses"]}

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],  # nothing is raised, so nothing to shrink
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(cases), who=st.sampled_from(USERS), data=st.data())
    def send(case, who, data) -> None:
        # Mostly real values, so that requests reach past "no such case" into the rules.
        for name, values in real.items():
            if name in (case.path_parameters or {}) and data.draw(st.integers(0, 3), name):
                case.path_parameters[name] = data.draw(values, name)
        headers = world.stack.headers(who) if who else {}
        what = f"{case.method} {case.formatted_path} as {who.role if who else 'nobody'}"
        try:
            response = case.call(base_url=world.stack.url, session=session, headers=headers)
        except requests.RequestException as error:
            world.failures.append(f"{what}: no answer ({error})")
            return
        world.answers[(operation.label, response.status_code)] += 1
        if response.status_code not in documented and not 400 <= response.status_code < 500:
            world.failures.append(f"{what}: undocumented {response.status_code}")
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as failed:  # the report of each check that failed
            world.failures.append(f"{what}: {response.status_code} {response.text[:300]}\n{failed}")

    send()


async def test_no_generated_request_gets_a_server_error_or_writes_half_a_change(world):
    url = world.stack.url
    schema = await asyncio.to_thread(schemathesis.openapi.from_url, f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40  # the whole surface, not a part of it

    def fuzz_all() -> None:
        with requests.Session() as session:
            for operation in operations:
                fuzz_operation(world, operation, session)

    # The worker runs on this event loop: the requests go out from a thread.
    await asyncio.to_thread(fuzz_all)
    sent = sum(world.answers.values())
    by_status = Counter()
    for (_, status), count in world.answers.items():
        by_status[status] += count
    print(f"{sent} requests to {len(operations)} operations; answers: {dict(by_status)}")
    assert world.failures == []
    assert sent >= 2000
    # Requests reached past the gate: some were refused by the rules, some took effect.
    assert by_status[409] > 0 and by_status[200] > 0

    await check_nothing_half_written(world)


async def check_nothing_half_written(world: World) -> None:
    stack = world.stack
    database = stack.settings.database_url
    with session_scope(database) as session:
        applications = list(session.exec(select(CaseRecord.case_no)))
        emergencies = list(session.exec(select(EmergencyRecord.case_no)))
        claimed = set(session.exec(select(HouseholdClaim.case_no)))
        unfinished = session.exec(
            select(func.count()).where(IdempotencyRecord.status_code.is_(None))
        ).one()
        reserves = list(session.exec(select(TownshipReserve)))
        entries = list(session.exec(select(ReserveEntry).order_by(ReserveEntry.id)))

    # Every case record has its workflow, and none of them is failing.
    assert set(world.applications) <= set(applications)
    assert set(world.emergencies) <= set(emergencies)
    temporal = world.temporal
    missing = []
    for case_no, workflow_id in [
        *((no, application_workflow_id(no)) for no in applications),
        *((no, emergency_workflow_id(no)) for no in emergencies),
    ]:
        try:
            await temporal.get_workflow_handle(workflow_id).describe()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            missing.append(case_no)
    assert missing == [], "case records without a workflow"
    assert claimed <= set(applications) | set(emergencies), "household claims without a case"

    async with stack.client(HOME_ACTORS[SUP]) as supervisor:
        stuck = await supervisor.get(
            "/supervision/stuck", params={"reason": "engine_problem", "page_size": 200}
        )
        assert stuck.status_code == 200 and stuck.json()["items"] == [], stuck.text
        verdict = await supervisor.get("/audit/verify")
        assert verdict.status_code == 200 and verdict.json()["ok"] is True, verdict.text

    # Each reserve is the sum of its ledger, and its last entry says so.
    for reserve in reserves:
        mine = [e for e in entries if e.township == reserve.township]
        signed = {EntryKind.top_up: 1, EntryKind.settle: -1}
        balance = sum(signed.get(e.kind, 0) * e.amount_fen for e in mine)
        holding = {EntryKind.hold: 1, EntryKind.settle: -1, EntryKind.release: -1}
        held = sum(holding[e.kind] * e.amount_fen for e in mine if e.kind in holding)
        assert (reserve.balance_fen, reserve.held_fen) == (balance, held), reserve.township
        if mine:
            last = mine[-1]
            assert (last.balance_after_fen, last.held_after_fen) == (balance, held)

    assert unfinished == 0, "Idempotency-Keys still claimed by requests that never finished"
