"""``make bench``: throughput, action latency and memory of jiuzhu, against the bare engine.

The benchmark starts its own embedded stack (Temporal dev server, simulators, worker, API) in a
fresh temporary directory on free ports, so it never touches ``var/`` or a running ``make run``.
It then measures, in one run:

1. N complete cases driven over HTTP by C concurrent simulated caseworkers
   (intake → survey → review approve → decision approve → first payment), timing each action;
2. the same N cases and C drivers against a bare workflow on the same Temporal server, with the
   same updates and the same number of activities, each activity doing nothing; then against
   a minimal one (start + 3 updates, one no-op activity each: the floor of a durable
   lifecycle whose every step is recorded);
3. the peak and current memory of the worker and API processes;
4. the worker's memory with M more cases left open (intake only);
5. E emergencies by C concurrent caseworkers: request, approval, then the time from the
   approval to the settled payment (both taken from the case's own timestamps), beside a bare
   workflow with the same activities after its approval update;
6. first of all, a burst: B intakes sent at one moment, a fifth of them five copies of the same
   few households, while ``/health`` is polled (every answer checked, the slowest health answer
   reported).

The public notice (公示, 7 calendar days) is a durable timer; the benchmark measures actions, so
it runs with a zero-day notice (JIUZHU_POLICY__NOTICE_CALENDAR_DAYS=0).

    .venv/bin/python bench/bench.py [--cases 200] [--concurrency 10] [--open-cases 1000]
                                    [--burst 50] [--emergencies 100] [--database-url URL] [--keep]

``--database-url`` points the stack at an empty database of its own (PostgreSQL, say:
``createdb -h 127.0.0.1 -U postgres jiuzhu_bench`` and
``--database-url postgresql+psycopg://postgres@127.0.0.1/jiuzhu_bench``); SQLite by default.
"""

import argparse
import asyncio
import math
import os
import platform
import random
import shutil
import socket
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import httpx
    import psutil
    from temporalio.client import Client
    from temporalio.worker import Worker

# The bare workflow below runs in Temporal's sandbox, which imports this module again: the
# module's top level must stay deterministic (no Path.resolve(); __file__ is already absolute).
ROOT = Path(__file__).parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

with workflow.unsafe.imports_passed_through():
    from api.tokens import issue_token
    from domain.calendar import local_date
    from domain.cases import Role
    from domain.identity import check_digit
    from domain.townships import SEED_TOWNSHIPS
    from logs import configure_logging
    from settings import Settings
    from stack import EmbeddedStack
    from workflows.client import connect

DISTRICT = "370305"
TOWNSHIP = "370305001"  # 闻韶街道 (urban)
VILLAGES = [f"{TOWNSHIP}{n:03d}" for n in (1, 2, 3)]
TOWNSHIPS = {t.code: t.villages[0].code for t in SEED_TOWNSHIPS}
"""Emergencies are spread over every township (and its reserve): township → a village."""
ACTIONS = ("intake", "survey", "review", "decision")
BARE_ACTIONS = ("start", "survey", "review", "decision")
POLL_INTERVAL = 0.25  # seconds between two looks at a case waiting for the worker
WAIT_TIMEOUT = 120.0  # seconds a case may take to reach the next stage before the run fails
TARGET_P99_MS = 250.0
TARGET_PAYOUT_P99_MS = 2000.0
EMERGENCY_AMOUNT = "1000.00"  # within every cause's band, and any approver's limit
TARGET_RATIO = 0.8
TARGET_P99_RATIO = 1.5
"""All actions' p99 through the API, against the bare workflow's update p99 in the same run."""
TARGET_WORKER_MB = 500.0
TARGET_OPEN_CASES = 1000
MB = 1024 * 1024


class BenchError(Exception):
    """Something went wrong: the figures of this run cannot be trusted."""


# ---- setup ------------------------------------------------------------------------------------


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out for bind(0): where other processes' random ports come from."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(taken: set[int], *, also_free_at: int = 0) -> int:
    """A free loopback port below the ephemeral range; with ``also_free_at``, port + that too.

    Below the ephemeral range, because the Temporal dev server picks its HTTP and metrics ports
    at random from that range after we chose ours, and tests running alongside do the same.
    """
    low = 20000
    high = min(ephemeral_range()[0], 65536) - 1 - also_free_at
    if high <= low:
        low, high = 10000, 20000
    for _ in range(1000):
        port = random.randint(low, high)
        wanted = [port, port + also_free_at] if also_free_at else [port]
        if not taken.intersection(wanted) and all(port_is_free(p) for p in wanted):
            taken.update(wanted)
            return port
    raise BenchError("no free port found")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def configure_environment(var: Path, database_url: str | None) -> dict[str, str]:
    """Point every part of the stack at the bench's own ports and files (before Settings())."""
    taken: set[int] = set()
    temporal_port = free_port(taken, also_free_at=1000)  # the dev server's Web UI is on port + 1000
    api_port = free_port(taken)
    simulator_port = free_port(taken)
    env = {
        "JIUZHU_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "JIUZHU_API_HOST": "127.0.0.1",
        "JIUZHU_API_PORT": str(api_port),
        "JIUZHU_PAYMENT_URL": f"http://127.0.0.1:{simulator_port}/payment",
        "JIUZHU_SMS_URL": f"http://127.0.0.1:{simulator_port}/sms",
        "JIUZHU_VERIFICATION_URL": f"http://127.0.0.1:{simulator_port}/verification",
        "JIUZHU_DATABASE_URL": database_url or f"sqlite:///{var / 'jiuzhu.db'}",
        "JIUZHU_LOG_LEVEL": "WARNING",
        "JIUZHU_POLICY__NOTICE_CALENDAR_DAYS": "0",
    }
    os.environ.update(env)
    return env


class People:
    """Fresh, valid resident ID numbers (GB 11643 check digit), never the same twice in a run."""

    def __init__(self) -> None:
        self.serial = 0

    def id_number(self) -> str:
        self.serial += 1
        born = date(1950, 1, 1) + timedelta(days=self.serial // 1000)
        first17 = f"{DISTRICT}{born:%Y%m%d}{self.serial % 1000:03d}"
        return first17 + check_digit(first17)


@dataclass
class Caseworkers:
    """Bearer-token headers for the users who act on a case."""

    assistant: dict[str, str]
    coordinators: dict[str, dict[str, str]]  # by village
    officer: dict[str, str]
    assistants: dict[str, dict[str, str]]  # by township, for emergencies

    @classmethod
    def issue(cls, secret: str) -> "Caseworkers":
        def headers(sub: str, role: Role, jurisdiction: str) -> dict[str, str]:
            token = issue_token(
                secret=secret, sub=sub, name=sub, role=role, jurisdiction=jurisdiction
            )
            return {"Authorization": f"Bearer {token}"}

        return cls(
            assistant=headers("bench-assistant", Role.township_assistant, TOWNSHIP),
            coordinators={
                v: headers(f"bench-coordinator-{v}", Role.village_coordinator, v) for v in VILLAGES
            },
            officer=headers("bench-officer", Role.district_officer, DISTRICT),
            assistants={
                t: headers(f"bench-assistant-{t}", Role.township_assistant, t) for t in TOWNSHIPS
            },
        )


# ---- the cases over HTTP ----------------------------------------------------------------------


def application(people: People, index: int) -> dict:
    """A 低保 application of a two-person household in one of the township's villages."""
    return {
        "assistance_type": "dibao",
        "township": TOWNSHIP,
        "village": VILLAGES[index % len(VILLAGES)],
        "channel": "walk_in",
        "applicant": {"name": "张三", "id_number": people.id_number(), "phone": f"138{index:08d}"},
        "household": [
            {
                "name": "李四",
                "id_number": people.id_number(),
                "relation": "spouse",
                "monthly_income": "400.00",
            }
        ],
        "reason": "失业，无稳定收入",
        "bank_account": {"bank": "齐商银行", "account_no": f"6223{index:012d}", "holder": "张三"},
    }


def survey() -> dict:
    return {
        "investigators": ["李协理", "周干事"],
        "visited_on": str(local_date(datetime.now(UTC))),  # the date in Asia/Shanghai
        "findings": "两居室，无车辆",
        "assessed_monthly_income": "400.00",
    }


@dataclass
class Tally:
    """What one run measured: each action's latencies (ms), and how often a case was polled."""

    latencies: dict[str, list[float]]
    polls: int = 0
    unavailable: int = 0
    """503 answers (retried)."""

    @classmethod
    def of(cls, names) -> "Tally":
        return cls(latencies={name: [] for name in names})


def check(response: httpx.Response, what: str) -> dict:
    """The response body, or BenchError on any status other than 2xx."""
    if not response.is_success:
        raise BenchError(
            f"{what}: {response.request.method} {response.request.url.path} "
            f"answered {response.status_code}: {response.text[:500]}"
        )
    return response.json()


async def timed_post(
    http: httpx.AsyncClient, path: str, body: dict, headers: dict, what: str, tally: Tally
) -> dict:
    """POST one action, record its latency in milliseconds, and return the case."""
    started = time.perf_counter()
    response = await http.post(path, json=body, headers=headers)
    tally.latencies[what].append((time.perf_counter() - started) * 1000)
    return check(response, what)


async def wait_for(
    http: httpx.AsyncClient, case_no: str, headers: dict, predicate, what: str, tally: Tally
) -> dict:
    """Poll the case until ``predicate`` holds (the worker moves cases asynchronously)."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        tally.polls += 1
        case = check(
            await http.get(f"/applications/{case_no}", headers=headers), f"waiting for {what}"
        )
        if predicate(case):
            return case
        if time.monotonic() > deadline:
            raise BenchError(
                f"case {case_no} did not reach {what} in {WAIT_TIMEOUT:.0f}s: stage {case['stage']}"
            )
        await asyncio.sleep(POLL_INTERVAL)


async def complete_case(
    http: httpx.AsyncClient, users: Caseworkers, people: People, index: int, tally: Tally
) -> None:
    """One case from the window to its first payment, as the caseworkers would do it."""
    body = application(people, index)
    coordinator = users.coordinators[body["village"]]
    case = await timed_post(http, "/applications", body, users.assistant, "intake", tally)
    case_no = case["case_no"]
    await timed_post(
        http, f"/applications/{case_no}/survey", survey(), coordinator, "survey", tally
    )
    await wait_for(
        http, case_no, users.assistant, lambda c: c["stage"] == "review", "stage review", tally
    )
    review = {"recommendation": "approve", "reasons": "收入低于标准"}
    case = await timed_post(
        http, f"/applications/{case_no}/review", review, users.assistant, "review", tally
    )
    if case["stage"] != "notice":
        raise BenchError(
            f"case {case_no}: stage {case['stage']} after an approving review, not notice"
        )
    await wait_for(
        http, case_no, users.officer, lambda c: c["stage"] == "decision", "stage decision", tally
    )
    decision = {"outcome": "approve", "reasons": "符合条件"}
    case = await timed_post(
        http, f"/applications/{case_no}/decision", decision, users.officer, "decision", tally
    )
    if case["stage"] != "approved":
        raise BenchError(
            f"case {case_no}: stage {case['stage']} after an approving decision, not approved"
        )
    await wait_for(
        http,
        case_no,
        users.officer,
        lambda c: c["first_payment_at"] is not None,
        "first payment",
        tally,
    )


async def open_case(
    http: httpx.AsyncClient, users: Caseworkers, people: People, index: int, tally: Tally
) -> None:
    """Intake only: the case stays open, waiting for its survey. A 503 ("try again shortly")
    is retried as a client would, with the same Idempotency-Key, and counted."""
    body = application(people, index)
    headers = users.assistant | {"Idempotency-Key": f"bench-open-{index}"}
    for _ in range(30):
        started = time.perf_counter()
        response = await http.post("/applications", json=body, headers=headers)
        tally.latencies["intake"].append((time.perf_counter() - started) * 1000)
        if response.status_code != 503:
            check(response, "intake")
            return
        tally.unavailable += 1
        await asyncio.sleep(1)
    check(response, "intake")


async def run_pool(count: int, concurrency: int, one_case) -> float:
    """Run ``one_case(index)`` for ``count`` cases, ``concurrency`` at a time; the wall time in s.

    Each of the ``concurrency`` drivers is a caseworker who takes the next case once done with
    the last. The first failure cancels the others and is raised.
    """
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def caseworker() -> None:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await one_case(index)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(caseworker())
    return time.perf_counter() - started


def http_client(base_url: str, concurrency: int) -> httpx.AsyncClient:
    """One HTTP client shared by the caseworkers, at most one connection each."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60)


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


async def top_up_reserves(http: httpx.AsyncClient, users: Caseworkers, count: int) -> None:
    """Enough in every township's reserve for ``count`` emergencies spread over them."""
    each = Decimal(EMERGENCY_AMOUNT) * (count // len(TOWNSHIPS) + 1)
    for township in TOWNSHIPS:
        check(
            await http.post(
                f"/townships/{township}/reserve/top-ups",
                json={"amount": str(each), "note": "benchmark"},
                headers=users.officer | {"Idempotency-Key": f"bench-{uuid.uuid4()}"},
            ),
            "topping up a reserve",
        )


async def pay_emergency(
    http: httpx.AsyncClient, users: Caseworkers, people: People, index: int, payouts: list[float]
) -> None:
    """One family in a crisis: the request, the approval, then waiting until it is paid; the
    latency from approval to settled payment is read from the case's own timestamps."""
    township = list(TOWNSHIPS)[index % len(TOWNSHIPS)]
    name = f"受灾户{index}"
    body = {
        "township": township,
        "village": TOWNSHIPS[township],
        "cause": "fire",
        "applicant": {"name": name, "id_number": people.id_number(), "phone": f"139{index:08d}"},
        "bank_account": {"bank": "农商银行", "account_no": f"6221{index:012d}", "holder": name},
        "requested_amount": EMERGENCY_AMOUNT,
        "situation": "房屋失火",
    }
    assistant = users.assistants[township]
    case = check(await http.post("/emergencies", json=body, headers=assistant), "emergency request")
    case_no = case["case_no"]
    check(
        await http.post(
            f"/emergencies/{case_no}/approval",
            json={"amount": EMERGENCY_AMOUNT},
            headers=users.officer,
        ),
        "approval",
    )
    deadline = time.monotonic() + WAIT_TIMEOUT
    while case["paid_at"] is None:
        if time.monotonic() > deadline:
            raise BenchError(
                f"emergency {case_no} not paid in {WAIT_TIMEOUT:.0f}s: {case['stage']}"
            )
        await asyncio.sleep(POLL_INTERVAL)
        case = check(await http.get(f"/emergencies/{case_no}", headers=users.officer), "reading")
    paid, approved = (datetime.fromisoformat(case[k]) for k in ("paid_at", "approved_at"))
    payouts.append((paid - approved).total_seconds() * 1000)


@workflow.defn
class BareEmergency:
    """An emergency's shape with nothing inside: the approval update, then the same activities
    as the real one until the money is settled (hold, transfer, settle, follow-up due, record)."""

    def __init__(self) -> None:
        self.approved_at: datetime | None = None

    @workflow.run
    async def run(self, case_no: str) -> float:
        await workflow.wait_condition(lambda: self.approved_at is not None)
        for label in ("hold_reserve", "make_payment", "settle_reserve", "add_working_days"):
            await step(label)
        await step("record:paid")
        paid = workflow.now()
        await step("notify_applicant:paid")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return (paid - self.approved_at).total_seconds() * 1000

    @workflow.update
    async def approve(self, amount: str) -> str:
        await step("record:approved")
        self.approved_at = workflow.now()
        return "paying"


async def pay_bare_emergency(
    client: Client, task_queue: str, index: int, payouts: list[float]
) -> None:
    case_no = f"{task_queue}-emergency-{index}"
    handle = await client.start_workflow(
        BareEmergency.run, case_no, id=case_no, task_queue=task_queue
    )
    await handle.execute_update(BareEmergency.approve, EMERGENCY_AMOUNT)
    payouts.append(await handle.result())


# ---- the bare engine --------------------------------------------------------------------------

# What the real approved case runs, counted from workflows/application.py:
#   in its 3 updates (survey, review, decision): 1 record_transition each;
#   besides: verify_household, notify_applicant (accepted), record (verification report in),
#   record (survey completed), record (notice ended), make_payment, notify_applicant (approved),
#   record (first payment made).
BARE_UPDATE_ACTIVITIES = 3
BARE_EXTRA_ACTIVITIES = 8


@activity.defn(name="bench_step")
async def bench_step(label: str) -> str:
    """A trivial activity: stands for a record write or a call to an external system."""
    return label


@workflow.defn(name="BenchBareCase")
class BareCase:
    """The shape of an approved case with nothing inside: the same updates, stages and activities."""

    def __init__(self) -> None:
        self.stage = "survey"
        self.surveyed = False
        self.verified = False
        self.reviewed = False
        self.decided = False

    @workflow.run
    async def run(self, case_no: str) -> str:
        verification = asyncio.create_task(self._verify())
        await self._step("notify_applicant:accepted")
        await workflow.wait_condition(lambda: self.surveyed and self.verified)
        self.stage = "review"
        await self._step("record:survey_completed")
        await workflow.wait_condition(lambda: self.reviewed)
        self.stage = "decision"
        await self._step("record:notice_ended")
        await workflow.wait_condition(lambda: self.decided)
        await self._step("make_payment")
        await self._step("notify_applicant:approved")
        await self._step("record:first_payment_made")
        await verification
        await workflow.wait_condition(workflow.all_handlers_finished)
        return case_no

    @workflow.query
    def current_stage(self) -> str:
        return self.stage

    @workflow.update
    async def survey(self, note: str) -> str:
        await self._step("record:survey_recorded")
        self.surveyed = True
        return self.stage

    @survey.validator
    def _check_survey(self, note: str) -> None:
        self._require("survey")

    @workflow.update
    async def review(self, note: str) -> str:
        self.stage = "notice"
        self.reviewed = True
        await self._step("record:review_approve")
        return self.stage

    @review.validator
    def _check_review(self, note: str) -> None:
        self._require("review")

    @workflow.update
    async def decision(self, note: str) -> str:
        self.stage = "approved"
        self.decided = True
        await self._step("record:approved")
        return self.stage

    @decision.validator
    def _check_decision(self, note: str) -> None:
        self._require("decision")

    async def _verify(self) -> None:
        await self._step("verify_household")
        await self._step("record:verification_report_received")
        self.verified = True

    def _require(self, stage: str) -> None:
        if self.stage != stage:
            raise ValueError(f"stage is {self.stage}, not {stage}")

    async def _step(self, label: str) -> None:
        await step(label)


async def step(label: str) -> None:
    """In a bare workflow: one activity that does nothing."""
    await workflow.execute_activity(bench_step, label, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn(name="BenchMinimalCase")
class MinimalCase:
    """The floor of a durable lifecycle whose every step is recorded: three updates, one no-op
    activity in each, and done."""

    def __init__(self) -> None:
        self.steps = 0

    @workflow.run
    async def run(self, case_no: str) -> str:
        await workflow.wait_condition(lambda: self.steps == 3)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return case_no

    @workflow.update
    async def act(self, label: str) -> int:
        await step(label)
        self.steps += 1
        return self.steps


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


def verify_stack(stack: EmbeddedStack, settings: Settings) -> None:
    """Every part still running, and our API and simulators (not something else) on their ports."""
    time.sleep(1)  # a part that could not bind its port exits at once
    for name, process in stack.processes:
        if process.poll() is not None:
            raise BenchError(f"the {name} process exited with {process.returncode} on start")
    for what, url in (
        ("API", f"http://{settings.api_host}:{settings.api_port}/health"),
        ("simulators", settings.payment_url.rsplit("/", 1)[0] + "/health"),
    ):
        response = httpx.get(url, timeout=10)
        if response.status_code != 200 or response.json().get("status") != "ok":
            raise BenchError(
                f"{url} is not the {what}: {response.status_code} {response.text[:200]}"
            )


# ---- measuring --------------------------------------------------------------------------------


@dataclass
class Memory:
    """Resident memory of one process, in MB: now (psutil) and its peak (VmHWM)."""

    rss: float
    peak: float


def memory_of(pid: int) -> Memory:
    rss = psutil.Process(pid).memory_info().rss / MB
    peak_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    return Memory(rss=rss, peak=peak_kb / 1024)


def memory_of_stack(stack: EmbeddedStack) -> dict[str, Memory]:
    for name, process in stack.processes:
        if process.poll() is not None:
            raise BenchError(
                f"the {name} process exited with {process.returncode} during the benchmark"
            )
    return {name: memory_of(process.pid) for name, process in stack.processes}


def cpu_snapshot(stack: EmbeddedStack) -> dict[str, float]:
    """CPU seconds used so far by each part of the stack, by this process, and by the machine."""
    seconds = {}
    for name, process in [*stack.processes, ("bench", None)]:
        times = psutil.Process(process.pid if process else os.getpid()).cpu_times()
        seconds[name] = times.user + times.system
    machine = psutil.cpu_times()
    seconds["machine"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    return seconds


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds between two snapshots; 'other' is what processes outside the benchmark used."""
    used = {name: after[name] - before[name] for name in before}
    # Readings taken a moment apart: a tiny negative remainder means no other load.
    used["other"] = max(0.0, used.pop("machine") - sum(used.values()))
    return used


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


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


async def reports_missing(http: httpx.AsyncClient, users: Caseworkers) -> int:
    """How many cases waiting in 'survey' have no verification report in their projection yet."""
    missing, page_no = 0, 1
    while True:
        page = check(
            await http.get(
                "/applications",
                params={"stage": "survey", "page": page_no, "page_size": 200},
                headers=users.assistant,
            ),
            "listing the open cases",
        )
        missing += sum(case["verification"] is None for case in page["items"])
        if page_no * 200 >= page["total"]:
            return missing
        page_no += 1


async def settle(http: httpx.AsyncClient, users: Caseworkers) -> float:
    """Wait until the open cases' verification reports are in (the worker may still be working
    through intakes taken faster than it runs them), then a few seconds more. Fails only when
    no report arrives for ``WAIT_TIMEOUT``; returns how long the wait took."""
    began = time.monotonic()
    progress_at, fewest = began, None
    while missing := await reports_missing(http, users):
        now = time.monotonic()
        if fewest is None or missing < fewest:
            if fewest is not None:
                print(f"    {missing} verification reports still to come ...", flush=True)
            progress_at, fewest = now, missing
        elif now - progress_at > WAIT_TIMEOUT:
            raise BenchError(f"{missing} verification reports stopped arriving")
        await asyncio.sleep(10)
    waited = time.monotonic() - began
    await asyncio.sleep(5)
    return waited


# ---- the report -------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def cpu_line(used: dict[str, float], wall: float) -> str:
    """CPU seconds per process during a run, and how busy the machine's cores were."""
    cores = os.cpu_count() or 1
    parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in used.items())
    busy = sum(used.values()) / (wall * cores) * 100
    return f"    CPU s: {parts}  (machine {busy:.0f}% of {cores} cores busy)"


def print_report(results: Results, env: dict[str, str], command: str, started_load: tuple) -> None:
    n, c = results.cases, results.concurrency
    api_rate = n / results.api_wall
    bare_rate = n / results.bare_wall
    ratio = api_rate / bare_rate
    api_all = [v for name in ACTIONS for v in results.api.latencies[name]]
    bare_updates = [v for name in ACTIONS[1:] for v in results.bare.latencies[name]]
    worker_then = results.after_throughput["worker"]
    api_then = results.after_throughput["api"]
    worker_open = results.with_open_cases["worker"]
    api_open = results.with_open_cases["api"]

    def row(label: str, values: list[float]) -> str:
        return f"    {label:<22} n={len(values):<5} p50 {percentile(values, 50):7.1f}   p99 {percentile(values, 99):7.1f}"

    print()
    print("=" * 78)
    print("jiuzhu benchmark")
    print("=" * 78)
    print(
        f"  machine: {os.cpu_count()} CPUs, load average at start {started_load[0]:.2f} {started_load[1]:.2f} "
        f"{started_load[2]:.2f}; Python {platform.python_version()}"
    )
    print("  public notice: 0 days (JIUZHU_POLICY__NOTICE_CALENDAR_DAYS=0): the 7-day notice is a")
    print("    durable timer; the benchmark measures actions, not waiting")
    print(
        f"  caseworkers poll a waiting case every {POLL_INTERVAL * 1000:.0f} ms (GET = the case records);"
    )
    print(
        "    polling is not an action, but it runs during the measurement and is in the wall time"
    )
    print("  one warm-up case per path first, not counted")
    print(
        f"  stack: Temporal {env['JIUZHU_TEMPORAL_ADDRESS']}, API port {env['JIUZHU_API_PORT']}, "
        f"simulators {env['JIUZHU_PAYMENT_URL'].rsplit('/', 1)[0]}"
    )
    print(f"  database: {env['JIUZHU_DATABASE_URL'].split('://')[0]}")
    workers = [name for name in results.after_throughput if name.startswith("worker")]
    print(f"  worker processes: {len(workers)} on one task queue")
    if b := results.burst:
        answered = ", ".join(f"{count} × {code}" for code, count in sorted(b.statuses.items()))
        print()
        print(f"  burst: {b.size} intakes sent at one moment (duplicates among them)")
        print(
            f"    all answered in {b.wall:.2f} s ({answered}); latency p50 "
            f"{percentile(b.latencies, 50):.0f} ms, p99 {percentile(b.latencies, 99):.0f} ms; "
            f"slowest /health meanwhile {b.slowest_health * 1000:.0f} ms"
        )
    print()
    print(f"  cases N = {n}, concurrent caseworkers C = {c}")
    print("  API (HTTP → API → Temporal → worker → SQLite + simulators)")
    print(f"    wall time {results.api_wall:8.1f} s   {api_rate:6.2f} cases/s")
    print("    action latency (ms):")
    for name in ACTIONS:
        print(row(name, results.api.latencies[name]))
    print(row("all actions", api_all))
    print(f"    polls (GET) per case: {results.api.polls / n:.1f}")
    print(cpu_line(results.api_cpu, results.api_wall))
    per_case = {k: v / n * 1000 for k, v in results.api_cpu.items()}
    print("    CPU ms per case: " + ", ".join(f"{k} {v:.0f}" for k, v in per_case.items()))
    print(
        f"  bare engine (start + 3 updates, {BARE_UPDATE_ACTIVITIES + BARE_EXTRA_ACTIVITIES} no-op activities: "
        f"{BARE_UPDATE_ACTIVITIES} in updates + {BARE_EXTRA_ACTIVITIES} others; worker in the bench process)"
    )
    print(f"    wall time {results.bare_wall:8.1f} s   {bare_rate:6.2f} cases/s")
    print("    latency (ms):")
    print(row("start_workflow", results.bare.latencies["start"]))
    for name in ACTIONS[1:]:
        print(row(f"update {name}", results.bare.latencies[name]))
    print(row("all updates", bare_updates))
    print(f"    polls (query) per case: {results.bare.polls / n:.1f}")
    print(cpu_line(results.bare_cpu, results.bare_wall))
    per_case = {k: v / n * 1000 for k, v in results.bare_cpu.items()}
    print(
        "    CPU ms per case: "
        + ", ".join(f"{k} {v:.0f}" for k, v in per_case.items())
        + " (the bare worker runs in 'bench', with the drivers)"
    )
    print(f"  throughput ratio API / bare: {ratio:.2f}")
    minimal_rate = n / results.minimal_wall
    minimal_updates = [v for name in ACTIONS[1:] for v in results.minimal.latencies[name]]
    print("  minimal baseline (start + 3 updates, one no-op activity each, no polling)")
    print(f"    wall time {results.minimal_wall:8.1f} s   {minimal_rate:6.2f} cases/s")
    print(row("start_workflow", results.minimal.latencies["start"]))
    print(row("all updates", minimal_updates))
    print(
        f"  ratios to the minimal baseline: throughput {api_rate / minimal_rate:.2f}, "
        f"all-actions p99 {percentile(api_all, 99) / percentile(minimal_updates, 99):.2f}"
    )
    if results.emergencies:
        e, p, bp = results.emergencies, results.payouts, results.bare_payouts
        print()
        print(f"  emergencies E = {e}, concurrent caseworkers C = {c} (request, approval, payment)")
        print("    approval → settled payment (ms, from the case's own timestamps):")
        print(row("API stack", p))
        print(row("bare engine", bp))
    print()
    print("  memory (MB)                    RSS now   peak (VmHWM)")
    readings = [("after the throughput runs", results.after_throughput)]
    if results.open_cases:
        readings.append((f"with {results.open_cases} more open cases", results.with_open_cases))
    for label, memories in readings:
        print(f"    {label}:")
        for name, m in memories.items():
            print(f"      {name:<26} {m.rss:8.1f}   {m.peak:8.1f}")
    if results.open_cases:
        print(
            f"  open cases: {results.open_cases} intakes in {results.open_wall:.1f} s; intake latency p50 "
            f"{percentile(results.open_intake, 50):.1f} ms, p99 {percentile(results.open_intake, 99):.1f} ms"
        )
        print(
            f"    open cases now: at least {results.open_cases} (waiting in survey for their household survey)"
        )
        print(f"    intakes answered 503 and retried: {results.open_unavailable}")
        print(
            f"    the worker had run them all (verification reports in) {results.settle_wall:.0f} s "
            "after the last intake"
        )
        if results.loaded:
            loaded_all = [v for name in ACTIONS for v in results.loaded.latencies[name]]
            m = len(results.loaded.latencies["intake"])
            print(
                f"  with them open, {m} complete cases in {results.loaded_wall:.1f} s "
                f"({m / results.loaded_wall:.2f} cases/s):"
            )
            for name in ACTIONS:
                print(row(name, results.loaded.latencies[name]))
            print(row("all actions", loaded_all))
            print(
                f"    all-actions p99 with {results.open_cases:,} open / empty system: "
                f"{percentile(loaded_all, 99):.1f} / {percentile(api_all, 99):.1f} = "
                f"{percentile(loaded_all, 99) / percentile(api_all, 99):.2f} (target <= 2)"
            )
    print()
    print("  targets")
    worst_action = max(ACTIONS, key=lambda a: percentile(results.api.latencies[a], 99))
    worst_p99 = percentile(results.api.latencies[worst_action], 99)
    note = "" if c == 10 else f" (target is for C=10; measured at C={c})"
    print(
        f"    action p99 < {TARGET_P99_MS:.0f} ms at 10 caseworkers: worst action {worst_action} "
        f"p99 {worst_p99:.1f} ms, all actions p99 {percentile(api_all, 99):.1f} ms"
        f"  {verdict(worst_p99 < TARGET_P99_MS)}{note}"
    )
    print(
        f"      (the engine alone, same machine: bare updates p99 {percentile(bare_updates, 99):.1f} ms)"
    )
    print(
        f"    throughput >= {TARGET_RATIO} x bare: {api_rate:.2f} / {bare_rate:.2f} = {ratio:.2f}"
        f"  {verdict(ratio >= TARGET_RATIO)}"
    )
    p99_ratio = percentile(api_all, 99) / percentile(bare_updates, 99)
    print(
        f"    all-actions p99 <= {TARGET_P99_RATIO} x the bare updates' p99: "
        f"{percentile(api_all, 99):.1f} / {percentile(bare_updates, 99):.1f} = {p99_ratio:.2f}"
        f"  {verdict(p99_ratio <= TARGET_P99_RATIO)}"
    )
    if results.emergencies:
        payout_p99 = percentile(results.payouts, 99)
        print(
            f"    emergency approval → settled payment p99 < {TARGET_PAYOUT_P99_MS:.0f} ms: "
            f"{payout_p99:.1f} ms  {verdict(payout_p99 < TARGET_PAYOUT_P99_MS)}"
        )
    worker_peak = worker_open.peak
    if results.open_cases >= TARGET_OPEN_CASES:
        print(
            f"    worker memory < {TARGET_WORKER_MB:.0f} MB with {TARGET_OPEN_CASES:,} open cases: "
            f"RSS {worker_open.rss:.1f} MB, peak {worker_peak:.1f} MB  {verdict(worker_peak < TARGET_WORKER_MB)}"
        )
    else:
        print(
            f"    worker memory < {TARGET_WORKER_MB:.0f} MB with {TARGET_OPEN_CASES:,} open cases: "
            f"not measured (only {results.open_cases} open cases; peak {worker_peak:.1f} MB)"
        )
    print(
        f"    (API peak RSS {max(api_then.peak, api_open.peak):.1f} MB, worker peak after throughput "
        f"{worker_then.peak:.1f} MB)"
    )
    print()
    print(f"  reproduce: {command}")
    print("=" * 78)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases", type=int, default=200, help="complete cases per path (default 200)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=10, help="concurrent caseworkers (default 10)"
    )
    parser.add_argument(
        "--open-cases",
        type=int,
        default=1000,
        help="open cases for the memory figure (default 1000)",
    )
    parser.add_argument(
        "--burst", type=int, default=50, help="intakes sent at one moment (default 50; 0: none)"
    )
    parser.add_argument(
        "--emergencies", type=int, default=100, help="emergencies paid (default 100; 0: none)"
    )
    parser.add_argument(
        "--database-url", help="an empty database for the stack (default: SQLite in a temp dir)"
    )
    parser.add_argument(
        "--cases-when-loaded",
        type=int,
        default=0,
        help="complete cases driven once the open cases wait, to compare their p99 (default 0)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes on the task queue (default 1)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary var directory")
    args = parser.parse_args()
    if (
        args.cases < 1
        or args.concurrency < 1
        or args.open_cases < 0
        or args.emergencies < 0
        or not 0 <= args.burst <= 500
    ):
        parser.error(
            "--cases and --concurrency must be at least 1, --open-cases at least 0, "
            "--burst from 0 to 500"
        )
    return args


def main() -> int:
    args = parse_args()
    os.chdir(ROOT)  # the stack starts `python worker.py` and `python -m simulators` from here
    options = (
        f"--cases {args.cases} --concurrency {args.concurrency} --open-cases {args.open_cases} "
        f"--burst {args.burst} --emergencies {args.emergencies}"
        + (f" --cases-when-loaded {args.cases_when_loaded}" if args.cases_when_loaded else "")
        + (f" --workers {args.workers}" if args.workers != 1 else "")
        + (f" --database-url {args.database_url}" if args.database_url else "")
    )
    command = f'make bench ARGS="{options}"   (or: .venv/bin/python bench/bench.py {options})'

    started_load = os.getloadavg()
    var = Path(tempfile.mkdtemp(prefix="jiuzhu-bench-"))
    env = configure_environment(var, args.database_url)
    configure_logging(level="WARNING", process="bench")
    settings = Settings()
    stack = EmbeddedStack(settings, var=var, workers=args.workers)
    print(f"jiuzhu benchmark: starting a stack in {var} (public notice 0 days) ...", flush=True)
    failed = False
    try:
        stack.start()
        verify_stack(stack, settings)
        results = asyncio.run(measure(stack, settings, args))
    except BaseException as error:
        failed = True
        if isinstance(error, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
        else:
            print(f"benchmark failed: {error!r}", file=sys.stderr)
            traceback.print_exc()
    finally:
        stack.stop()
        if args.keep:
            print(f"kept {var}")
        else:
            shutil.rmtree(var, ignore_errors=True)
    if failed:
        return 1
    print_report(results, env, command, started_load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
