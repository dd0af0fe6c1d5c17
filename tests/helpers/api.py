"""Cases over the HTTP API: the bodies a caseworker sends, the keys every POST carries, and
ways to read a case, a reserve and the simulators until the worker has moved them."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from domain.calendar import local_date
from tests.helpers.actors import OFFICER, approver_of, assistant_of, coordinator_of
from tests.helpers.people import account_no, id_number, phone

# ---- what a caseworker sends ----------------------------------------------------------------


def application(**overrides) -> dict:
    body = {
        "assistance_type": "dibao",
        "township": "370305001",
        "village": "370305001001",
        "channel": "walk_in",
        "applicant": {"name": "张三", "id_number": id_number(), "phone": "13800000000"},
        "household": [
            {
                "name": "李四",
                "id_number": id_number("19820202"),
                "relation": "spouse",
                "monthly_income": "400.00",
            }
        ],
        "reason": "失业，无稳定收入",
    }
    body |= overrides
    holder = body["applicant"]["name"]  # the payment system pays only the account's holder
    body.setdefault(
        "bank_account", {"bank": "齐商银行", "account_no": "6223000011112222", "holder": holder}
    )
    return body


def shanghai_today() -> date:
    """Dates are the district's: after 16:00 UTC it is already tomorrow in Asia/Shanghai."""
    return local_date(datetime.now(UTC))


def survey(today: date | None = None) -> dict:
    return {
        "investigators": ["李协理", "周干事"],
        "visited_on": str(today or shanghai_today()),
        "findings": "两居室，无车辆",
        "assessed_monthly_income": "400.00",
    }


async def wait_for(client: httpx.AsyncClient, case_no: str, predicate, timeout: float = 20) -> dict:
    """Poll the case until ``predicate`` holds (the worker moves cases asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        case = (await client.get(f"/applications/{case_no}")).json()
        if predicate(case):
            return case
        assert asyncio.get_running_loop().time() < deadline, case
        await asyncio.sleep(0.1)


def emergency(
    township: str,
    village: str,
    *,
    name: str = "刘大成",
    cause: str = "fire",
    amount: str = "2000.00",
    account: str | None = None,
    household: list[dict] | None = None,
    **overrides: Any,
) -> dict:
    """A family of two whose home burnt down; the account is the applicant's own."""
    body = {
        "township": township,
        "village": village,
        "channel": "walk_in",
        "cause": cause,
        "applicant": {"name": name, "id_number": id_number("19760314"), "phone": phone()},
        "household": household
        if household is not None
        else [{"name": "刘小成", "id_number": id_number("20110909"), "relation": "子女"}],
        "bank_account": {
            "bank": "齐商银行",
            "account_no": account or account_no(),
            "holder": name,
        },
        "requested_amount": amount,
        "situation": "夜间房屋失火，家具衣物全部烧毁，无处安身",
    }
    return body | overrides


def key() -> dict[str, str]:
    """A fresh Idempotency-Key, as every client sends with every POST."""
    return {"Idempotency-Key": str(uuid.uuid4())}


# ---- reading the outcome -----------------------------------------------------------------


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    predicate: Callable[[Any], bool],
    *,
    timeout: float = 20,
) -> Any:
    """Poll ``probe`` until its value satisfies ``predicate`` (the worker moves cases on its own)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if predicate(value):
            return value
        assert loop.time() < deadline, f"still not so after {timeout}s: {value}"
        await asyncio.sleep(0.1)


async def until(client: httpx.AsyncClient, case_no: str, predicate, timeout: float = 20) -> dict:
    async def case() -> dict:
        answer = await client.get(f"/emergencies/{case_no}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    return await eventually(case, predicate, timeout=timeout)


async def trail(client: httpx.AsyncClient, case_no: str) -> list[dict]:
    answer = await client.get(f"/emergencies/{case_no}/audit-trail")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def reserve_of(client: httpx.AsyncClient, township: str) -> dict[str, Any]:
    """The reserve as it stands, its sums checked: ``available`` is the balance less what is held."""
    answer = await client.get(f"/townships/{township}/reserve")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    state: dict[str, Any] = {
        k: Decimal(body[k]) for k in ("balance", "held", "available", "minimum")
    }
    assert body["township"] == township
    assert state["available"] == state["balance"] - state["held"], body
    assert body["below_minimum"] == (state["balance"] < state["minimum"]), body
    state["below_minimum"] = body["below_minimum"]
    return state


async def ledger_of(client: httpx.AsyncClient, township: str) -> list[dict]:
    """Every entry of the township's ledger, newest first (all pages)."""
    entries: list[dict] = []
    page = 1
    while True:
        answer = await client.get(
            f"/townships/{township}/reserve/ledger", params={"page": page, "page_size": 200}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        entries += body["items"]
        if len(entries) >= body["total"] or not body["items"]:
            assert len(entries) == body["total"], body
            return entries
        page += 1


async def transfers(sims: httpx.AsyncClient, case_no: str) -> list[dict]:
    return (await sims.get("/payment/transfers", params={"case_no": case_no})).json()


async def texts(sims: httpx.AsyncClient, number: str, template: str) -> list[dict]:
    return (await sims.get("/sms/messages", params={"phone": number, "template": template})).json()


async def notices(client: httpx.AsyncClient) -> list[dict]:
    answer = await client.get("/notifications", params={"limit": 500})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def paid_and_closed(stack, body: dict, *, exception: bool = False) -> str:
    """An emergency paid by the township's leader (``exception``: by the district's 一事一议)
    and closed by the district after its follow-up (the family may then ask again); its
    number."""
    township, village = body["township"], body["village"]
    async with (
        stack.client(assistant_of(township)) as assistant,
        stack.client(approver_of(township)) as approver,
        stack.client(coordinator_of(village)) as coordinator,
        stack.client(OFFICER) as officer,
    ):
        created = await assistant.post("/emergencies", json=body, headers=key())
        assert created.status_code == 201, created.text
        case_no = created.json()["case_no"]
        if exception:
            approved = await officer.post(
                f"/emergencies/{case_no}/exception-approval",
                json={"amount": "1500.00", "reason": "再次受灾，情况属实"},
                headers=key(),
            )
        else:
            approved = await approver.post(
                f"/emergencies/{case_no}/approval", json={"amount": "1500.00"}, headers=key()
            )
        assert approved.status_code == 200, approved.text
        await until(approver, case_no, lambda c: c["stage"] == "paid")
        survey = {
            "investigators": ["李协理", "周干事"],
            "visited_on": str(local_date(datetime.now(UTC))),
            "findings": "情况属实",
            "household_monthly_income": "800.00",
        }
        steps = [
            (coordinator, "survey", survey),
            (assistant, "review", {"recommendation": "approve", "reasons": "情况属实"}),
            (officer, "decision", {"outcome": "approve", "reasons": "确认符合条件"}),
        ]
        for who, step, payload in steps:
            done = await who.post(f"/emergencies/{case_no}/{step}", json=payload, headers=key())
            assert done.status_code == 200, done.text
        assert done.json()["stage"] == "closed"
    return case_no


# ---- moving a case on -----------------------------------------------------------------------


async def intervene(http: httpx.AsyncClient, case_no: str, action: str, **body) -> httpx.Response:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    return await http.post(f"/supervision/cases/{case_no}/{action}", json=body, headers=key)


async def to_decision(assistant: httpx.AsyncClient, case_no: str) -> None:
    await assistant.post(f"/applications/{case_no}/survey", json=survey())
    await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
    await assistant.post(
        f"/applications/{case_no}/review", json={"recommendation": "approve", "reasons": "收入低"}
    )
    await wait_for(assistant, case_no, lambda c: c["stage"] == "decision")


def flood_emergency(n: int, township: str = "370305101", village: str = "370305101201") -> dict:
    """The ``n``th family whose home a flood destroyed, asking for ¥3,000 (皇城镇 by default)."""
    name = f"受灾户{n}"
    return {
        "township": township,
        "village": village,
        "cause": "disaster",
        "applicant": {"name": name, "id_number": id_number(), "phone": phone()},
        "household": [],
        "bank_account": {"bank": "农商银行", "account_no": f"62210000{n:08d}", "holder": name},
        "requested_amount": "3000.00",
        "situation": "暴雨冲毁房屋",
    }


def member_applies(body: dict, **overrides) -> dict:
    """An application for the first household member of ``body``, on their own."""
    member = body["household"][0]
    applicant = {"name": member["name"], "id_number": member["id_number"], "phone": "13800000001"}
    return application(applicant=applicant, household=[], **overrides)
