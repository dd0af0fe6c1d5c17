"""Caseworkers over HTTP: each action timed, a waiting case polled, a pool of concurrent
drivers, the emergencies paid, and the wait for open cases to settle."""

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import httpx

from bench import BenchError
from bench.cases import EMERGENCY_AMOUNT, TOWNSHIPS, Caseworkers, People, application, survey

ACTIONS = ("intake", "survey", "review", "decision")
POLL_INTERVAL = 0.25  # seconds between two looks at a case waiting for the worker
WAIT_TIMEOUT = 120.0  # seconds a case may take to reach the next stage before the run fails


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
