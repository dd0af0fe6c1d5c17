"""Drivers of the mirrors, straight on the Temporal client: the same cases, the same waits."""

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import TypeAdapter
from temporalio.client import Client, WorkflowHandle
from temporalio.converter import DataConverter

from bench import BenchError
from bench.cases import EMERGENCY_AMOUNT, TOWNSHIP, People, application
from bench.drivers import ACTIONS, POLL_INTERVAL, WAIT_TIMEOUT, Tally
from bench.mirrors import BareCase, BareEmergency, MinimalCase
from bench.same_io import SameIOCase
from domain.cases import Actor, CaseStart, Role
from domain.intake import ApplicationIntake
from domain.sealing import KeyRing
from services.intake import accept
from settings import Settings
from store.db import Database
from store.records import record_of
from workflows.client import CasePayloadConverter

_INTAKE = TypeAdapter(ApplicationIntake)

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


async def wait_for_stage(handle, query, stage: str, tally: Tally) -> None:
    """Poll the mirror's stage by query, as the caseworkers poll the API."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        tally.polls += 1
        if await handle.query(query) == stage:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"bare case {handle.id} did not reach {stage} in {WAIT_TIMEOUT:.0f}s")
        await asyncio.sleep(POLL_INTERVAL)


async def drive_mirror(mirror, starting: Awaitable[WorkflowHandle], tally: Tally) -> None:
    """One mirrored case: its start, the three updates with the same waits in between, its
    result."""

    async def timed(name: str, call):
        started = time.perf_counter()
        result = await call
        tally.latencies[name].append((time.perf_counter() - started) * 1000)
        return result

    handle = await timed("start", starting)
    await timed("survey", handle.execute_update(mirror.survey, "surveyed"))
    await wait_for_stage(handle, mirror.current_stage, "review", tally)
    await timed("review", handle.execute_update(mirror.review, "approve"))
    await wait_for_stage(handle, mirror.current_stage, "decision", tally)
    await timed("decision", handle.execute_update(mirror.decision, "approve"))
    await handle.result()


async def complete_bare_case(client: Client, task_queue: str, index: int, tally: Tally) -> None:
    case_no = f"{task_queue}-{index}"
    starting = client.start_workflow(BareCase.run, case_no, id=case_no, task_queue=task_queue)
    await drive_mirror(BareCase, starting, tally)


@dataclass
class Intake:
    """The intake's records write as the API makes it (``services.intake.accept``: the
    household claimed, the case numbered, its first record and audit entry), without the API."""

    db: Database
    settings: Settings
    ring: KeyRing
    people: People
    clerk: Actor
    accepted: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, settings: Settings, people: People) -> "Intake":
        clerk = Actor(
            user_id="bench-assistant", name="bench-assistant", role=Role.township_assistant,
            jurisdiction=TOWNSHIP,
        )  # fmt: skip
        return cls(
            db=Database(settings.database_url), settings=settings, ring=settings.key_ring(),
            people=people, clerk=clerk,
        )  # fmt: skip

    async def accept(self, index: int) -> CaseStart:
        body = _INTAKE.validate_python(application(self.people, index))
        start = await self.db.write(
            accept, application=body, user=self.clerk, accepted_at=datetime.now(UTC),
            policy=self.settings.policy, ring=self.ring,
        )  # fmt: skip
        self.accepted.append(start.case_no)
        return start

    async def check_paid(self) -> None:
        """Every case taken in has its first payment on the record: the mirror did the writes."""

        def unpaid(session) -> list[str]:
            rows = [record_of(session, kind="application", case_no=n) for n in self.accepted]
            return [
                n
                for n, row in zip(self.accepted, rows, strict=True)
                if not row or not row.first_payment_at
            ]

        if missing := await self.db.read(unpaid):
            raise BenchError(f"bare, same I/O: {len(missing)} cases without their first payment")


async def complete_same_io_case(
    client: Client, task_queue: str, intake: Intake, index: int, tally: Tally
) -> None:
    """One case of the "bare, same I/O" mirror: the intake's write, then its workflow."""

    async def start() -> WorkflowHandle:
        start = await intake.accept(index)
        case_no = start.case_no
        return await client.start_workflow(
            SameIOCase.run, start, id=f"{task_queue}-{case_no}", task_queue=task_queue
        )

    await drive_mirror(SameIOCase, start(), tally)


async def plain_client(settings: Settings) -> Client:
    """A client with jiuzhu's payload conversion and no encryption."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DataConverter(payload_converter_class=CasePayloadConverter),
    )
