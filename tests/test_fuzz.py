"""The whole OpenAPI surface, fuzzed over real HTTP (schemathesis).

A stack of its own (API, worker, the Temporal dev server, a database of its own) with real
cases in it. For every operation of the API's own /openapi.json, requests generated from the
schema (valid and invalid ones) are sent as every role, as the users of another township, as a
district officer with a township's account (another level than the role's) and as nobody, with real case numbers, township codes and years as path parameters most of the time.

It proves that no request is answered with a server error (5xx), that every answer is a
documented status or a 4xx, in the documented shape; and that no request wrote half a change:
afterwards every case record has its workflow and no engine problem, every household claim
its case, the audit trail verifies, each reserve's balance is the sum of its ledger, and no
Idempotency-Key is left claimed by a request that never finished.

Repeatable: generation is derandomized; Hypothesis keeps no example database, and its other
files go to a temporary directory, never the repository.
"""

import asyncio
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
from temporalio.client import Client, WorkflowExecutionStatus

from domain.calendar import local_date
from domain.cases import Actor
from domain.reserve import EntryKind
from store.db import session_scope
from store.tables import (
    CaseRecord,
    EmergencyRecord,
    HouseholdClaim,
    IdempotencyRecord,
    ReserveEntry,
    TownshipReserve,
)
from tests.helpers.actors import (
    AWAY_ACTORS,
    AWAY_VILLAGE,
    DO,
    HOME,
    HOME_ACTORS,
    HOME_VILLAGE,
    MISPLACED,
    SUP,
    TA,
    TP,
    actor,
)
from tests.helpers.api import application, emergency
from tests.helpers.stack import Stack, fresh_database, running_stack, stack_settings
from workflows.application import ApplicationWorkflow
from workflows.emergency import EmergencyWorkflow

RUNNING, COMPLETED = WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED

EXAMPLES_PER_USER = 12
"""Generated requests for each user the operation is meant for (fewer where the schema allows
fewer); a user it refuses, or nobody, gets a few. About 3,000 requests in all."""
EXAMPLES_REFUSED = 2

USERS: list[Actor | None] = [
    *HOME_ACTORS.values(),
    *AWAY_ACTORS.values(),  # the other township's users, for whom most of the cases are outside
    MISPLACED[DO],  # refused whatever the request: the account is not of the role's level
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

    def case_numbers(self, path: str) -> list[str]:
        """Real numbers for the path: its kind of case, and one of the other kind."""
        if path.startswith("/applications"):
            return [*self.applications, self.emergencies[0]]
        if path.startswith("/emergencies"):
            return [*self.emergencies, self.applications[0]]
        return self.applications + self.emergencies


@pytest.fixture(scope="module")
async def world(dev_env, simulator_url, tmp_path_factory) -> AsyncIterator[World]:
    """One stack on a database of its own, with applications in three villages of one township
    and one of another, and emergencies in both (one approved and paid, so the reserve's
    ledger has a hold and its settlement)."""
    # Hypothesis's own files (its caches) go to a temporary directory, not the repository.
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    database = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'jiuzhu.db'}"
    fresh_database(database)  # case numbers no other test uses
    settings = stack_settings(
        database_url=database,
        simulator_url=simulator_url,
        temporal_address=dev_env.client.service_client.config.target_host,
    )
    async with running_stack(dev_env.client, settings) as stack:
        applications, emergencies = [], []
        for village in (HOME_VILLAGE, f"{HOME}002", f"{HOME}003", AWAY_VILLAGE):
            async with stack.client(actor(TA, village[:9])) as assistant:
                body = application(township=village[:9], village=village)
                created = await assistant.post("/applications", json=body)
                assert created.status_code == 201, created.text
                applications.append(created.json()["case_no"])
                if village in (HOME_VILLAGE, AWAY_VILLAGE):
                    body = emergency(village[:9], village, amount="1000.00")
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
    set_hypothesis_home_dir(None)


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
"""Schemathesis' own checks: no 5xx; a documented answer has the documented body and type."""


def fuzz_operation(world: World, operation, session: requests.Session) -> None:
    """Send the operation's generated requests as each user; count the answers, collect what
    is wrong."""
    generated = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE)]
    if operation.path_parameters or operation.query or operation.headers or operation.body:
        generated.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    year = local_date(datetime.now(UTC)).year
    real = {
        "case_no": st.sampled_from(world.case_numbers(operation.path)),
        "code": st.sampled_from(world.townships),
        "year": st.sampled_from([year, year + 1]),
    }
    documented = {int(code) for code in operation.definition.raw["responses"]}
    permission = operation.definition.raw["x-permission"]

    def send(case, who: Actor | None, data) -> None:
        # Mostly real values, so that requests reach past "no such case" into the rules.
        for name, values in real.items():
            if name in (case.path_parameters or {}) and data.draw(st.integers(0, 3), name):
                case.path_parameters[name] = data.draw(values, name)
        headers = world.stack.headers(who) if who else {}
        if case.method in ("POST", "PUT") and data.draw(st.integers(0, 3), "fresh key"):
            headers["Idempotency-Key"] = str(uuid.uuid4())  # as a client sends with each write
        what = f"{case.method} {case.formatted_path} as {who.role if who else 'nobody'}"
        try:
            response = case.call(
                base_url=world.stack.url, session=session, headers=headers, timeout=60
            )
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

    for user in USERS:
        meant = not permission["sign_in"] or (user is not None and user.role in permission["roles"])

        @settings(
            max_examples=EXAMPLES_PER_USER if meant else EXAMPLES_REFUSED,
            deadline=None,
            derandomize=True,  # the same requests on every run
            database=None,  # and no example database kept
            phases=[Phase.generate],  # nothing is raised, so nothing to shrink
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(generated), who=st.just(user), data=st.data())
        def fuzz(case, who, data) -> None:
            send(case, who, data)

        fuzz()


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
    print(f"{sent} requests to {len(operations)} operations; answers: {sorted(by_status.items())}")
    assert world.failures == []
    assert sent > 2500
    # Requests reached past the gate: some were refused by the rules, some took effect.
    assert by_status[409] > 0 and by_status[200] > 0

    await check_nothing_half_written(world)


async def check_nothing_half_written(world: World) -> None:
    database = world.stack.settings.database_url
    with session_scope(database) as session:
        records = {
            **{r.case_no: (r, ApplicationWorkflow) for r in session.exec(select(CaseRecord))},
            **{r.case_no: (r, EmergencyWorkflow) for r in session.exec(select(EmergencyRecord))},
        }
        claimed = set(session.exec(select(HouseholdClaim.case_no)))
        unfinished = session.exec(
            select(func.count()).where(IdempotencyRecord.status_code.is_(None))
        ).one()
        reserves = list(session.exec(select(TownshipReserve)))
        entries = list(session.exec(select(ReserveEntry).order_by(ReserveEntry.id)))

    # Every case record has its workflow, neither failed nor stopped, and they agree.
    assert set(world.applications + world.emergencies) <= records.keys()
    for case_no, (record, workflow) in records.items():
        prefix = "application" if workflow is ApplicationWorkflow else "emergency"
        handle = world.temporal.get_workflow_handle(f"{prefix}-{case_no}")
        described = await handle.describe()  # RPCError NOT_FOUND: a record without a workflow
        assert described.status in (RUNNING, COMPLETED), (case_no, described.status)
        assert (await handle.query(workflow.current)).stage == record.stage, case_no
    assert claimed <= records.keys(), "household claims without a case"

    async with world.stack.client(HOME_ACTORS[SUP]) as supervisor:
        stuck = await supervisor.get(
            "/supervision/stuck", params={"reason": "engine_problem", "page_size": 200}
        )
        assert stuck.status_code == 200 and stuck.json()["items"] == [], stuck.text
        verdict = await supervisor.get("/audit/verify")
        assert verdict.status_code == 200 and verdict.json()["ok"] is True, verdict.text

    # Each reserve is the sum of its ledger, and its last entry says so.
    balance_sign = {EntryKind.top_up: 1, EntryKind.settle: -1}
    held_sign = {EntryKind.hold: 1, EntryKind.settle: -1, EntryKind.release: -1}
    for reserve in reserves:
        mine = [e for e in entries if e.township == reserve.township]
        balance = sum(balance_sign.get(e.kind, 0) * e.amount_fen for e in mine)
        held = sum(held_sign.get(e.kind, 0) * e.amount_fen for e in mine)
        assert (reserve.balance_fen, reserve.held_fen) == (balance, held), reserve.township
        assert mine and (mine[-1].balance_after_fen, mine[-1].held_after_fen) == (balance, held)

    assert unfinished == 0, "Idempotency-Keys still claimed by requests that never finished"
