"""Database reads for the probes and the figures, in threads of their own: a database that
never answers holds these threads, never the threads the case routes need."""

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session

from store.db import session_scope

T = TypeVar("T")

PROBE_THREADS = 4


class Probes:
    """Database probes in threads of their own, at most ``PROBE_THREADS`` at once per API
    process. A database that never answers holds these threads (until its driver gives up),
    never the threads the case routes need, and never more of them: while all are held, a
    probe reports the database down at once. Daemon threads: a hung one does not hold up the
    process's exit."""

    def __init__(self, threads: int = PROBE_THREADS) -> None:
        self.slots = threading.BoundedSemaphore(threads)

    async def run(self, timeout: float, work: Callable[..., T], *args: Any) -> T:
        if not self.slots.acquire(blocking=False):
            raise TimeoutError("every probe thread still waits for the database")
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if not answer.done():  # not given up on
                if error is None:
                    answer.set_result(result)
                else:
                    answer.set_exception(error)

        def probe() -> None:
            try:
                result, error = work(*args), None
            except BaseException as failure:
                result, error = None, failure
            finally:
                self.slots.release()
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(settle, result, error)

        threading.Thread(target=probe, name="jiuzhu-probe", daemon=True).start()
        return await asyncio.wait_for(answer, timeout)

    async def read(self, timeout: float, url: str, work: Callable[[Session], T]) -> T:
        """``work(session)`` on the database at ``url``, in a probe thread, within ``timeout``."""
        return await self.run(timeout, _read, url, work)


def _read(url: str, work: Callable[[Session], T]) -> T:
    with session_scope(url) as session:
        return work(session)
