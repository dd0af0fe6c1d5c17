"""Engine and sessions. API and worker write to the same database at once, so every
transaction is short, never spans an await, and on SQLite a writing one takes the write lock
at its start (``BEGIN IMMEDIATE``): a transaction that read first and then wanted to write
would fail with "database is locked" the moment another writer committed in between."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, event, text
from sqlmodel import Session, create_engine

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS = 10
"""How long a SQLite writer waits for the lock; transactions last milliseconds."""

CONNECT_TIMEOUT_SECONDS = 5
"""How long a new PostgreSQL connection may take: a database that accepts and never answers
gets a 503 "try again" instead of holding the request and its thread."""


@lru_cache
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None  # transactions begin below, not in the driver
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection) -> None:
            writes = connection.get_execution_options().get("writes", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )


@contextmanager
def session_scope(url: str, *, writes: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    ``writes=True`` for a transaction that will write: on SQLite it holds the write lock from
    its first statement, so it waits its turn instead of failing halfway.
    """
    engine = get_engine(url)
    bind = engine.execution_options(writes=True) if writes else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class Database:
    """The database for async code (the API, the worker's activities): each call runs
    ``work(session, **kwargs)`` in a worker thread, in a transaction of its own that is over
    before the call returns, so no event loop ever waits on a lock and no transaction is held
    across an await or an error."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def read(self, work: Callable[..., T], /, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(self._run, work, False, kwargs)

    async def write(self, work: Callable[..., T], /, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(self._run, work, True, kwargs)

    def _run(self, work: Callable[..., T], writes: bool, kwargs: dict[str, Any]) -> T:
        with session_scope(self.url, writes=writes) as session:
            return work(session, **kwargs)


def answers(session: Session) -> None:
    """The cheapest statement the database must answer: the API's readiness probe."""
    session.exec(text("SELECT 1"))
