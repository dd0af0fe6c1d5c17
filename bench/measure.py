"""The runs, in order: the burst, the API, the mirrors, the emergencies, the open cases."""

import argparse
import asyncio
import uuid
from dataclasses import dataclass, field

from temporalio.worker import Worker

from bench import same_io_worker
from bench.baselines import (
    BARE_ACTIONS,
    Intake,
    complete_bare_case,
    complete_minimal_case,
    complete_same_io_case,
    pay_bare_emergency,
    plain_client,
)
from bench.burst import Burst, burst
from bench.cases import Caseworkers, People
from bench.drivers import (
    ACTIONS,
    Tally,
    complete_case,
    http_client,
    open_case,
    pay_emergency,
    run_pool,
    settle,
    top_up_reserves,
)
from bench.mirrors import BareCase, BareEmergency, MinimalCase, bench_step
from bench.resources import Memory, cpu_snapshot, cpu_used, memory_of_stack
from settings import Settings
from stack import EmbeddedStack
from workflows.client import connect


@dataclass
class Results:
    cases: int
    concurrency: int
    open_cases: int
    api_wall: float = 0.0
    api: Tally | None = None
    bare_wall: float = 0.0
    bare: Tally | None = None
    after_throughput: dict[str, Memory] = field(default_factory=dict)
    with_open_cases: dict[str, Memory] = field(default_factory=dict)
    burst: Burst | None = None
    emergencies: int = 0
    payouts: list[float] = field(default_factory=list)
    bare_payouts: list[float] = field(default_factory=list)
    open_intake: list[float] = field(default_factory=list)
    open_wall: float = 0.0
    open_unavailable: int = 0
    settle_wall: float = 0.0
    api_cpu: dict[str, float] = field(default_factory=dict)
    bare_cpu: dict[str, float] = field(default_factory=dict)
    minimal_wall: float = 0.0
    minimal: Tally | None = None
    loaded: Tally | None = None
    """The actions of --cases-when-loaded cases, driven with the open cases waiting."""
    loaded_wall: float = 0.0
    same_io_wall: float = 0.0
    same_io: Tally | None = None
    """The "bare, same I/O" mirror: the bare case's shape doing jiuzhu's records and HTTP calls."""
    same_io_cpu: dict[str, float] = field(default_factory=dict)


async def measure(stack: EmbeddedStack, settings: Settings, args: argparse.Namespace) -> Results:
    """The three measurements, in order: the API, the bare engine, the open cases."""
    results = Results(cases=args.cases, concurrency=args.concurrency, open_cases=args.open_cases)
    users = Caseworkers.issue(settings.jwt_secret)
    people = People()
    base_url = f"http://{settings.api_host}:{settings.api_port}"

    if args.burst:
        print(f"  burst: {args.burst} intakes at once ...", flush=True)
        async with http_client(base_url, args.burst + 1) as http:
            results.burst = await burst(http, users, people, args.burst)

    async with http_client(base_url, args.concurrency) as http:
        # One case first, not counted: the worker and the API load their code on first use.
        await complete_case(http, users, people, 0, Tally.of(ACTIONS))

        print(f"  API: {args.cases} cases, {args.concurrency} caseworkers ...", flush=True)
        results.api = Tally.of(ACTIONS)
        before = cpu_snapshot(stack)
        results.api_wall = await run_pool(
            args.cases,
            args.concurrency,
            lambda i: complete_case(http, users, people, i, results.api),
        )
        results.api_cpu = cpu_used(before, cpu_snapshot(stack))

        print(f"  bare engine: {args.cases} cases, {args.concurrency} drivers ...", flush=True)
        client = await connect(
            settings.temporal_address, settings.temporal_namespace, ring=settings.key_ring()
        )
        task_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[BareCase, BareEmergency, MinimalCase],
            activities=[bench_step],
        ):
            await complete_bare_case(client, task_queue, -1, Tally.of(BARE_ACTIONS))
            results.bare = Tally.of(BARE_ACTIONS)
            before = cpu_snapshot(stack)
            results.bare_wall = await run_pool(
                args.cases,
                args.concurrency,
                lambda i: complete_bare_case(client, task_queue, i, results.bare),
            )
            results.bare_cpu = cpu_used(before, cpu_snapshot(stack))

            print(
                f"  bare, same I/O: {args.cases} cases, {args.concurrency} drivers ...", flush=True
            )
            results.same_io_wall, results.same_io, results.same_io_cpu = await run_same_io(
                stack, settings, people, args
            )

            print(f"  minimal baseline: {args.cases} cases, {args.concurrency} drivers ...")
            await complete_minimal_case(client, task_queue, -1, Tally.of(BARE_ACTIONS))
            results.minimal = Tally.of(BARE_ACTIONS)
            results.minimal_wall = await run_pool(
                args.cases,
                args.concurrency,
                lambda i: complete_minimal_case(client, task_queue, i, results.minimal),
            )

            if args.emergencies:
                results.emergencies = args.emergencies
                print(
                    f"  emergencies: {args.emergencies}, {args.concurrency} caseworkers ...",
                    flush=True,
                )
                await top_up_reserves(http, users, args.emergencies)
                await pay_emergency(http, users, people, 99_999, [])  # warm-up, not counted
                await run_pool(
                    args.emergencies,
                    args.concurrency,
                    lambda i: pay_emergency(http, users, people, i, results.payouts),
                )
                await run_pool(
                    args.emergencies,
                    args.concurrency,
                    lambda i: pay_bare_emergency(client, task_queue, i, results.bare_payouts),
                )
        results.after_throughput = memory_of_stack(stack)

        if args.open_cases:
            print(f"  open cases: {args.open_cases} intakes ...", flush=True)
            tally = Tally.of(("intake",))
            results.open_wall = await run_pool(
                args.open_cases,
                args.concurrency,
                lambda i: open_case(http, users, people, args.cases + i, tally),
            )
            results.open_intake = tally.latencies["intake"]
            results.open_unavailable = tally.unavailable
            print(
                f"    taken in {results.open_wall:.0f} s; waiting for their verification reports ...",
                flush=True,
            )
            results.settle_wall = await settle(http, users)
            if args.cases_when_loaded:
                print(
                    f"  with them open: {args.cases_when_loaded} more complete cases ...",
                    flush=True,
                )
                results.loaded = Tally.of(ACTIONS)
                first = args.cases + args.open_cases
                results.loaded_wall = await run_pool(
                    args.cases_when_loaded,
                    args.concurrency,
                    lambda i: complete_case(http, users, people, first + i, results.loaded),
                )
        results.with_open_cases = memory_of_stack(stack)
    return results


async def run_same_io(
    stack: EmbeddedStack, settings: Settings, people: People, args: argparse.Namespace
) -> tuple[float, Tally, dict[str, float]]:
    """The "bare, same I/O" mirror on a worker process of its own, with jiuzhu's own records
    and external activities and a client without encryption: wall time, latencies, CPU."""
    client = await plain_client(settings)
    task_queue = f"bench-io-{uuid.uuid4().hex[:8]}"
    intake = Intake.of(settings, people)
    tally = Tally.of(BARE_ACTIONS)
    worker = await asyncio.to_thread(same_io_worker.start, task_queue)
    try:
        warm_up = Tally.of(BARE_ACTIONS)
        await complete_same_io_case(client, task_queue, intake, 0, warm_up)
        more = [("io-worker", worker)]
        before = cpu_snapshot(stack, more=more)
        wall = await run_pool(
            args.cases,
            args.concurrency,
            lambda i: complete_same_io_case(client, task_queue, intake, i, tally),
        )
        used = cpu_used(before, cpu_snapshot(stack, more=more))
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 15)
    await intake.check_paid()
    return wall, tally, used
