"""The burst: B intakes sent at one moment, duplicates among them, /health polled meanwhile."""

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from bench import BenchError
from bench.cases import Caseworkers, People, application
from bench.drivers import check


@dataclass
class Burst:
    """B intakes at one moment: how long until all were answered, and how /health fared."""

    size: int
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    slowest_health: float = 0.0


async def burst(http: httpx.AsyncClient, users: Caseworkers, people: People, size: int) -> Burst:
    """A fifth of the intakes are five copies each of a few households: each household must get
    one 201 and 409s naming that case; every other intake a 201."""
    households = [application(people, i) for i in range(max(size // 25, 1))]
    copies = len(households) * 5
    bodies = [households[i % len(households)] for i in range(copies)]
    bodies += [application(people, i) for i in range(size - copies)]
    result, done = Burst(size=size), asyncio.Event()

    async def intake(body: dict) -> httpx.Response:
        started = time.perf_counter()
        response = await http.post("/applications", json=body, headers=users.assistant)
        result.latencies.append((time.perf_counter() - started) * 1000)
        return response

    async def watch_health() -> None:
        while not done.is_set():
            started = time.perf_counter()
            check(await http.get("/health"), "/health during the burst")
            result.slowest_health = max(result.slowest_health, time.perf_counter() - started)
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch_health())
    started = time.perf_counter()
    answers = await asyncio.gather(*(intake(body) for body in bodies))
    result.wall = time.perf_counter() - started
    done.set()
    await watcher
    for answer in answers:
        result.statuses[answer.status_code] = result.statuses.get(answer.status_code, 0) + 1
    for household in households:
        mine = [a for a, b in zip(answers, bodies, strict=True) if b is household]
        created = [a.json()["case_no"] for a in mine if a.status_code == 201]
        duplicates = [a for a in mine if a.status_code == 409 and created[0] in a.json()["detail"]]
        if len(created) != 1 or len(duplicates) != len(mine) - 1:
            raise BenchError(f"burst: one household got {[a.status_code for a in mine]}")
    if result.statuses.get(201, 0) != size - copies + len(households):
        raise BenchError(f"burst: answers {result.statuses}")
    return result
