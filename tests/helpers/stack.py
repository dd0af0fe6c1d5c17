"""The stack a test runs against: its settings, its databases, the Temporal binaries, and the
API with a worker behind it."""

import os
import random
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType

from activities.external import ExternalActivities
from api.main import create_app
from domain.calendar import local_date
from domain.cases import Actor
from domain.policy import Policy
from domain.recipients import TYPE_CODES
from settings import Settings
from store.db import Database, get_engine, session_scope
from store.migrate import upgrade
from store.tables import CaseCounter, RecipientCounter
from tests.helpers import actors
from tests.helpers.servers import serve
from watches.halted import mark_halted_cases, reconcile_halted_cases
from worker import create_worker
from workflows.client import data_converter
from workflows.search import ALL_KEYS

# Not the module's generator: pytest-randomly seeds it alike before every test, and these
# numbers must differ between tests.
_unseeded = random.SystemRandom()


BIN = Path(sys.executable).parent
TEMPORAL = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"

RING = Settings().key_ring()
CONVERTER = data_converter(RING)
"""What the worker and the API use: payloads encrypted under the configured (default) key."""


def stack_settings(
    *,
    database_url: str,
    simulator_url: str,
    temporal_address: str | None = None,
    **overrides,
) -> Settings:
    """Settings of a test's stack: the simulators at ``simulator_url``, a task queue of its
    own, a worker that stops at once (tests/test_workers.py tries the grace period of a
    deployment); with ``temporal_address`` (the dev server, whose clock is real time) a
    notice period of zero days."""
    fields: dict = dict(
        database_url=database_url,
        payment_url=f"{simulator_url}/payment",
        sms_url=f"{simulator_url}/sms",
        verification_url=f"{simulator_url}/verification",
        task_queue=f"test-{uuid.uuid4()}",
        worker_shutdown_grace_seconds=0,
    )
    if temporal_address:
        fields |= dict(temporal_address=temporal_address, policy=Policy(notice_calendar_days=0))
    return Settings(**(fields | overrides))


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


# ---- databases -------------------------------------------------------------------------------

POSTGRES = os.environ.get(
    "JIUZHU_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

REQUIRE_POSTGRES = os.environ.get("JIUZHU_TEST_REQUIRE_POSTGRES", "") not in ("", "0")
"""Set (CI sets it): a PostgreSQL that does not answer fails the run, instead of skipping the
PostgreSQL half of the records tests and running the end-to-end suite on SQLite."""


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


def fresh_database(database: str) -> str:
    """``database`` migrated, its case numbers starting at a random point of this year: the
    cases of the session's other databases share the one dev server, where a case's workflow
    id is made of its number."""
    upgrade(database)
    with session_scope(database, writes=True) as session:
        year = local_date(datetime.now(UTC)).year
        session.add(CaseCounter(year=year, last=_unseeded.randrange(10**5, 9 * 10**5)))
        # Households' numbers likewise: the bank simulator is shared, and pays a household's
        # month once (its line's key is made of the number).
        for kind in TYPE_CODES:
            session.add(
                RecipientCounter(
                    assistance_type=kind, year=year, last=_unseeded.randrange(10**5, 9 * 10**5)
                )
            )
    return database


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


# ---- the API and its worker -----------------------------------------------------------------


class Stack:
    """A running API with a real worker behind it, and ways to call it as a user."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings

    def headers(self, actor: Actor, idempotency_key: str | None = None) -> dict[str, str]:
        return actors.headers(self.settings, actor, idempotency_key)

    def client(self, actor: Actor | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers=self.headers(actor) if actor else None, timeout=30
        )


@asynccontextmanager
async def running_stack(client: Client, settings: Settings) -> AsyncIterator[Stack]:
    """A worker on ``client`` and the API over HTTP, with ``settings``."""
    worker, external = create_worker(client, settings)
    async with worker:
        with serve(create_app(settings)) as url:
            yield Stack(url, settings)
    await external.close()


async def watch_halted_now(client: Client, settings: Settings) -> list[str]:
    """One round of the worker's watch over cases whose workflow stopped, with no margin:
    they are halted, then their payments reconciled with the bank; the cases reconciled."""
    db = Database(settings.database_url)
    now = datetime.now(UTC)
    await mark_halted_cases(client, db, since=now - timedelta(days=1))
    bank = ExternalActivities(
        payment_url=settings.payment_url,
        sms_url=settings.sms_url,
        verification_url=settings.verification_url,
    )
    try:
        return await reconcile_halted_cases(
            db, bank, ring=settings.key_ring(), now=now, after=timedelta(0)
        )
    finally:
        await bank.close()
