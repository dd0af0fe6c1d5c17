"""Drivers of the mirrors, straight on the Temporal client: the same cases, the same waits."""

import asyncio
import time

from temporalio.client import Client

from bench import BenchError
from bench.cases import EMERGENCY_AMOUNT
from bench.drivers import ACTIONS, POLL_INTERVAL, WAIT_TIMEOUT, Tally
from bench.mirrors import BareCase, BareEmergency, MinimalCase

BARE_ACTIONS = ("start", "survey", "review", "decision")


async def pay_bare_emergency(
    client: Client, task_queue: str, index: int, payouts: list[float]
) -> None:
    case_no = f"{task_queue}-emergency-{index}"
    handle = await client.start_workflow(
        BareEmergency.run, case_no, id=case_no, task_queue=task_queue
    )
    await handle.execute_update(BareEmergency.approve, EMERGENCY_AMOUNT)
    payouts.append(await handle.result())


async def complete_minimal_case(client: Client, task_queue: str, index: int, tally: Tally) -> None:
    """Start, three updates one after the other, the result."""
    started = time.perf_counter()
    handle = await client.start_workflow(
        MinimalCase.run, f"{task_queue}-min-{index}", id=f"{task_queue}-min-{index}",
        task_queue=task_queue,
    )  # fmt: skip
    tally.latencies["start"].append((time.perf_counter() - started) * 1000)
    for name in ACTIONS[1:]:
        started = time.perf_counter()
        await handle.execute_update(MinimalCase.act, name)
        tally.latencies[name].append((time.perf_counter() - started) * 1000)
    await handle.result()


async def wait_for_stage(handle, stage: str, tally: Tally) -> None:
    """Poll the bare case's stage by query, as the caseworkers poll the API."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        tally.polls += 1
        if await handle.query(BareCase.current_stage) == stage:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"bare case {handle.id} did not reach {stage} in {WAIT_TIMEOUT:.0f}s")
        await asyncio.sleep(POLL_INTERVAL)


async def complete_bare_case(client: Client, task_queue: str, index: int, tally: Tally) -> None:
    """One bare case: start, the three updates with the same waits in between, its result."""

    async def timed(name: str, call):
        started = time.perf_counter()
        result = await call
        tally.latencies[name].append((time.perf_counter() - started) * 1000)
        return result

    case_no = f"{task_queue}-{index}"
    handle = await timed(
        "start", client.start_workflow(BareCase.run, case_no, id=case_no, task_queue=task_queue)
    )
    await timed("survey", handle.execute_update(BareCase.survey, "surveyed"))
    await wait_for_stage(handle, "review", tally)
    await timed("review", handle.execute_update(BareCase.review, "approve"))
    await wait_for_stage(handle, "decision", tally)
    await timed("decision", handle.execute_update(BareCase.decision, "approve"))
    await handle.result()
