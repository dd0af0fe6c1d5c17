"""More emergencies approved at once than a township's reserve can cover, through the whole
stack, on SQLite and on PostgreSQL: the reserve never goes below zero, those that fit are paid,
the rest wait and are paid after a top-up, and the books balance to the fen."""

import asyncio
import uuid
from decimal import Decimal

import httpx

from domain.cases import Actor, Role
from tests.helpers.actors import OFFICER
from tests.helpers.api import flood_emergency

TOWNSHIP, VILLAGE = "370305101", "370305101201"  # 皇城镇, 皇城营村
ASSISTANT = Actor(
    user_id="u-huangcheng", name="皇城助理", role=Role.township_assistant, jurisdiction=TOWNSHIP
)


async def wait_until(
    http: httpx.AsyncClient, case_nos: list[str], predicate, timeout=60
) -> list[dict]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        cases = [(await http.get(f"/emergencies/{c}")).json() for c in case_nos]
        if all(predicate(c) for c in cases):
            return cases
        assert asyncio.get_running_loop().time() < deadline, [c["stage"] for c in cases]
        await asyncio.sleep(0.2)


async def test_approvals_beyond_the_reserve_wait_for_a_top_up_and_the_books_balance(
    stack_on_each_database, simulator_url
):
    stack = stack_on_each_database
    async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
        start = (await officer.get(f"/townships/{TOWNSHIP}/reserve")).json()
        assert (start["balance"], start["held"]) == ("50000.00", "0.00")
        requested = [
            await assistant.post("/emergencies", json=flood_emergency(n)) for n in range(20)
        ]
        case_nos = [r.json()["case_no"] for r in requested]

        # 20 × ¥3,000 = ¥60,000 approved at once against ¥50,000: 16 fit.
        approvals = await asyncio.gather(
            *(
                officer.post(f"/emergencies/{c}/approval", json={"amount": "3000.00"})
                for c in case_nos
            )
        )
        assert [a.status_code for a in approvals] == [200] * 20
        cases = await wait_until(
            officer, case_nos, lambda c: c["stage"] in ("paid", "awaiting_funds")
        )
        paid = [c["case_no"] for c in cases if c["stage"] == "paid"]
        waiting = [c["case_no"] for c in cases if c["stage"] == "awaiting_funds"]
        assert (len(paid), len(waiting)) == (16, 4)
        drained = (await officer.get(f"/townships/{TOWNSHIP}/reserve")).json()
        assert (drained["balance"], drained["held"], drained["available"]) == (
            "2000.00",
            "0.00",
            "2000.00",
        )

        topped = await officer.post(
            f"/townships/{TOWNSHIP}/reserve/top-ups",
            json={"amount": "20000.00", "note": "区财政追加储备金"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert topped.status_code == 200, topped.text
        await wait_until(officer, waiting, lambda c: c["stage"] == "paid")
        final = (await officer.get(f"/townships/{TOWNSHIP}/reserve")).json()
        assert (final["balance"], final["held"]) == ("10000.00", "0.00")  # 50,000 + 20,000 − 60,000

        entries = []
        for page in range(1, 10):
            batch = (
                await officer.get(
                    f"/townships/{TOWNSHIP}/reserve/ledger", params={"page": page, "page_size": 200}
                )
            ).json()
            entries += batch["items"]
            if len(entries) >= batch["total"]:
                break

    def total(kind: str) -> Decimal:
        return sum((Decimal(e["amount"]) for e in entries if e["kind"] == kind), Decimal(0))

    assert Decimal(final["balance"]) == total("top_up") - total("settle")
    assert Decimal(final["held"]) == total("hold") - total("settle") - total("release")
    assert all(Decimal(e["held_after"]) <= Decimal(e["balance_after"]) for e in entries)
    assert all(Decimal(e["balance_after"]) >= 0 for e in entries)
    async with httpx.AsyncClient(base_url=simulator_url) as sims:
        for case_no in case_nos:
            transfers = (await sims.get("/payment/transfers", params={"case_no": case_no})).json()
            assert [t["amount"] for t in transfers] == ["3000.00"], case_no
