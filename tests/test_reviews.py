"""Reviews of recipient households through the real stack (API, worker, dev server, the
simulators' platform, bank and SMS): a reported change opens a review, the township proposes,
the district decides from a month, and each month's payroll pays exactly what was decided."""

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlmodel import select

from domain.months import Month
from store.db import session_scope
from store.tables import PayrollItem
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.api import eventually, key, shanghai_today, survey, texts
from tests.helpers.cases import households
from tests.helpers.workflows import pay_month

VILLAGE = "370305001001"


async def review(stack, recipient_no: str, review_no: str) -> dict:
    async with stack.client(ASSISTANT) as http:
        answer = await http.get(f"/recipients/{recipient_no}/reviews/{review_no}")
        assert answer.status_code == 200, answer.text
        return answer.json()


async def decided(stack, recipient_no: str, change: dict, outcome: dict) -> dict:
    """A change reported, the review it opens surveyed, proposed and decided as ``outcome``
    says: the review as decided."""
    async with (
        stack.client(COORDINATOR) as village,
        stack.client(ASSISTANT) as township,
        stack.client(OFFICER) as district,
    ):
        opened = await village.post(
            f"/recipients/{recipient_no}/changes", json=change, headers=key()
        )
        assert opened.status_code == 201, opened.text
        review_no = opened.json()["review_no"]
        base = f"/recipients/{recipient_no}/reviews/{review_no}"
        surveyed = await township.post(f"{base}/survey", json=survey(), headers=key())
        assert surveyed.status_code == 200, surveyed.text
        await eventually(
            lambda: review(stack, recipient_no, review_no), lambda r: r["stage"] == "proposal"
        )
        proposal = {k: v for k, v in outcome.items() if k != "outcome"}
        proposed = await township.post(
            f"{base}/proposal",
            json=proposal | {"recommendation": outcome["outcome"]},
            headers=key(),
        )
        assert proposed.status_code == 200, proposed.text
        answer = await district.post(f"{base}/decision", json=outcome, headers=key())
        assert answer.status_code == 200, answer.text
        return answer.json()


def items(database_url: str, recipient_no: str) -> dict[str, Decimal]:
    with session_scope(database_url) as session:
        rows = session.exec(select(PayrollItem).where(PayrollItem.recipient_no == recipient_no))
        return {i.month: Decimal(i.amount_fen) / 100 for i in rows}


async def test_each_decision_takes_effect_in_the_payroll_of_its_month(
    own_stack, dev_env, simulator_url
):
    stack = own_stack
    adjusted, ended = households(stack.settings.database_url, 2, villages=(VILLAGE,))
    now = Month.at(datetime.now(UTC))
    m = [str(now.plus(n)) for n in range(12)]  # m[0]: this month, the approval's

    income = {"kind": "income_changed", "happened_on": str(shanghai_today()),
              "household_income": "620.00", "note": "儿子打零工"}  # fmt: skip
    first = await decided(stack, adjusted, income, {"outcome": "adjust", "amount": "900.00",
                          "effective_month": m[2], "reasons": "收入增加，调整保障金"})  # fmt: skip
    assert first["stage"] == "decided" and first["effective_month"] == m[2]
    other = {"kind": "other", "happened_on": str(shanghai_today())}
    await decided(stack, adjusted, other, {"outcome": "suspend", "effective_month": m[3],
                  "reasons": "外出务工，暂停"})  # fmt: skip
    await decided(stack, adjusted, other, {"outcome": "resume", "effective_month": m[4],
                  "reasons": "返乡，恢复"})  # fmt: skip
    await decided(stack, adjusted, other, {"outcome": "phase_out", "effective_month": m[5],
                  "reasons": "就业稳定，渐退"})  # fmt: skip
    moved = {"kind": "moved_away", "happened_on": str(shanghai_today())}
    await decided(stack, ended, moved, {"outcome": "terminate", "effective_month": m[3],
                  "reasons": "迁出本区"})  # fmt: skip

    for month in m[1:]:
        await pay_month(dev_env.client, month, task_queue=stack.settings.task_queue)

    paid = items(stack.settings.database_url, adjusted)
    # 1000 as approved; 900 from the adjustment; nothing while suspended; 900 again, and six
    # months of phase-out at it; then nothing.
    assert [paid.get(month) for month in m[1:]] == [
        Decimal("1000.00"), Decimal("900.00"), None, *[Decimal("900.00")] * 7, None,
    ]  # fmt: skip
    assert [items(stack.settings.database_url, ended).get(month) for month in m[1:5]] == [
        Decimal("1001.00"), Decimal("1001.00"), None, None,
    ]  # fmt: skip

    async with stack.client(ASSISTANT) as http, httpx.AsyncClient(base_url=simulator_url) as sims:
        household = (await http.get(f"/recipients/{adjusted}")).json()
        trail = (await http.get(f"/recipients/{adjusted}/audit-trail")).json()
        listed = (await http.get(f"/recipients/{adjusted}/reviews")).json()
        told = [
            t for t in await texts(sims, "13700000001", "review_terminate") if ended in t["text"]
        ]
    assert household["status"] == "phasing_out" and household["open_review"] is None
    actions = [e["action"] for e in trail]
    for action in ("benefit_adjusted", "benefit_suspended", "benefit_resumed",
                   "benefit_phasing_out"):  # fmt: skip
        assert actions.count(action) == 1, actions
    assert len(listed) == 4 and all(r["stage"] == "decided" for r in listed)
    assert len(told) == 1 and "迁出本区" in told[0]["text"] and "停止发放" in told[0]["text"]
