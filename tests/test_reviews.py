"""Reviews of recipient households through the real stack (API, worker, dev server, the
simulators' platform, bank and SMS): a reported change opens a review, the township proposes,
the district decides from a month, and each month's payroll pays exactly what was decided."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlmodel import select

from domain.benefits import BenefitDecision
from domain.calendar import local_date
from domain.months import Month
from domain.policy import Policy
from store.db import session_scope
from store.recipients import view_of
from store.records import audit_trail
from store.reviews import decide_review, open_review
from store.tables import PayrollItem, RecipientRecord
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.api import eventually, key, shanghai_today, survey, texts
from tests.helpers.cases import households
from tests.helpers.stack import RING
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
    assert household["assessed_income"] == "400.00"  # the last review's survey found it
    actions = [e["action"] for e in trail]
    for action in ("benefit_adjusted", "benefit_suspended", "benefit_resumed",
                   "benefit_phasing_out"):  # fmt: skip
        assert actions.count(action) == 1, actions
    assert len(listed) == 4 and all(r["stage"] == "decided" for r in listed)
    assert len(told) == 1 and "迁出本区" in told[0]["text"] and "停止发放" in told[0]["text"]


async def test_bad_input_and_actions_out_of_order_are_refused_naming_the_field(own_stack):
    stack = own_stack
    [number] = households(stack.settings.database_url, 1, villages=(VILLAGE,))
    this_month = Month.at(datetime.now(UTC))
    async with (
        stack.client(COORDINATOR) as village,
        stack.client(ASSISTANT) as township,
        stack.client(OFFICER) as district,
    ):
        # A change that cannot be: a date to come, an income change without the income.
        tomorrow = {"kind": "other", "happened_on": "2099-01-01"}
        no_income = {"kind": "income_changed", "happened_on": str(shanghai_today())}
        for body, field in ((tomorrow, "happened_on"), (no_income, "household_income")):
            refused = await village.post(f"/recipients/{number}/changes", json=body, headers=key())
            assert refused.status_code == 422 and field in refused.text, refused.text
        assert (await township.get(f"/recipients/{number}/reviews")).json() == []

        opened = await township.post(
            f"/recipients/{number}/reviews", json={"reason": "抽查"}, headers=key()
        )
        assert opened.status_code == 201, opened.text
        review_no = opened.json()["review_no"]
        base = f"/recipients/{number}/reviews/{review_no}"
        # Out of order: no proposal nor decision before the survey.
        early = await township.post(
            f"{base}/proposal", json={"recommendation": "continue", "reasons": "无变化"},
            headers=key(),
        )  # fmt: skip
        assert early.status_code == 409 and "survey" in early.json()["detail"]
        assert (await township.post(f"{base}/survey", json=survey(), headers=key())).is_success
        await eventually(
            lambda: review(stack, number, review_no), lambda r: r["stage"] == "proposal"
        )
        before = await review(stack, number, review_no)
        bad = [
            ({"recommendation": "adjust", "reasons": "x", "amount": "1.00",
              "effective_month": str(this_month.plus(-1))}, "effective_month"),
            ({"recommendation": "adjust", "reasons": "收入减少", "amount": "99999.00"}, "amount"),
            ({"recommendation": "adjust", "reasons": "收入减少"}, "amount"),
            ({"recommendation": "resume", "reasons": "恢复"}, "outcome"),
            ({"recommendation": "continue", "reasons": ""}, "reasons"),
            ({"recommendation": "adjust", "reasons": "x", "amount": "900",
              "effective_month": "2027-13"}, "effective_month"),
        ]  # fmt: skip
        for body, field in bad:
            refused = await township.post(f"{base}/proposal", json=body, headers=key())
            assert refused.status_code == 422 and field in refused.text, (body, refused.text)
        assert await review(stack, number, review_no) == before  # nothing written

        # Above the standard, 一事一议 lets it stand; the district decides.
        proposed = await township.post(
            f"{base}/proposal",
            json={"recommendation": "adjust", "reasons": "重病", "amount": "3000.00",
                  "exception_reason": "重病住院，一事一议"},
            headers=key(),
        )  # fmt: skip
        assert proposed.status_code == 200, proposed.text
        not_yours = await township.post(
            f"{base}/decision", json={"outcome": "continue", "reasons": "x"}, headers=key()
        )
        assert not_yours.status_code == 403
        no_reasons = await district.post(
            f"{base}/decision", json={"outcome": "continue"}, headers=key()
        )
        assert no_reasons.status_code == 422 and "reasons" in no_reasons.text
        decision = {"outcome": "continue", "reasons": "情况无变化"}
        same = key()
        first, again = [
            await district.post(f"{base}/decision", json=decision, headers=same) for _ in range(2)
        ]
        assert first.status_code == again.status_code == 200
        # The same answer (its stored copy has the numbers in it masked, as every kept answer).
        assert {k: v for k, v in first.json().items() if k != "verification"} == {
            k: v for k, v in again.json().items() if k != "verification"
        }
        late = await district.post(f"{base}/decision", json=decision, headers=key())
        assert late.status_code == 409
        household = (await township.get(f"/recipients/{number}")).json()
        trail = (await township.get(f"/recipients/{number}/audit-trail")).json()
    assert household["open_review"] is None and household["review_due"] > str(shanghai_today())
    assert [e["action"] for e in trail].count("benefit_continued") == 1


async def test_changes_reported_at_once_join_one_review(own_stack):
    stack = own_stack
    [number] = households(stack.settings.database_url, 1, villages=(VILLAGE,))
    change = {"kind": "member_joined", "happened_on": str(shanghai_today()), "note": "新生儿"}
    async with stack.client(COORDINATOR) as village:
        answers = await asyncio.gather(
            *(village.post(f"/recipients/{number}/changes", json=change, headers=key())
              for _ in range(6))
        )  # fmt: skip
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    numbers = {a.json()["review_no"] for a in answers}
    assert len(numbers) == 1 and sorted(a.json()["joined"] for a in answers) == [False] + [True] * 5
    [review_no] = numbers
    joined = await eventually(
        lambda: review(stack, number, review_no), lambda r: len(r["changes"]) == 6
    )
    assert joined["stage"] == "survey"
    async with stack.client(COORDINATOR) as village:
        household = (await village.get(f"/recipients/{number}")).json()
    assert household["open_review"] == review_no
    under_way = household["review"]
    assert under_way["stage"] == "survey" and under_way["decision_due"] > under_way["survey_due"]


async def test_the_only_members_death_ends_the_benefit_on_the_districts_confirmation(
    own_stack, dev_env, simulator_url
):
    stack = own_stack
    [number] = households(stack.settings.database_url, 1, villages=(VILLAGE,), alone=True)
    died = {"kind": "member_died", "happened_on": str(shanghai_today())}
    next_month = str(Month.at(datetime.now(UTC)).plus(1))
    async with stack.client(COORDINATOR) as village, stack.client(OFFICER) as district:
        opened = await village.post(f"/recipients/{number}/changes", json=died, headers=key())
        review_no = opened.json()["review_no"]
        at_district = await eventually(
            lambda: review(stack, number, review_no), lambda r: r["stage"] == "decision"
        )
        assert at_district["surveyed_at"] is None
        base = f"/recipients/{number}/reviews/{review_no}"
        kept = await district.post(
            f"{base}/decision", json={"outcome": "continue", "reasons": "x"}, headers=key()
        )
        assert kept.status_code == 422 and "terminate" in kept.text
        ended = await district.post(
            f"{base}/decision", json={"outcome": "terminate", "reasons": "户主死亡"},
            headers=key(),
        )  # fmt: skip
        assert ended.status_code == 200, ended.text
        assert ended.json()["effective_month"] == next_month
    await pay_month(dev_env.client, next_month, task_queue=stack.settings.task_queue)
    assert next_month not in items(stack.settings.database_url, number)


def test_a_decision_written_again_changes_nothing(own_database_url):
    """The register's write of a review's decision retried (its activity timed out after the
    commit): one line on the trail, one change on the course, even for a decision that changed
    nothing."""
    [number] = households(own_database_url, 1, villages=(VILLAGE,))
    now = datetime.now(UTC)
    for outcome in ({"outcome": "continue"}, {"outcome": "suspend"}):
        with session_scope(own_database_url, writes=True) as session:
            review_no = open_review(
                session, recipient_no=number, kind="out_of_cycle", reason="抽查", actor=OFFICER,
                now=now, policy=Policy(), ring=RING, today=local_date(now),
            ).review_no  # fmt: skip
        decision = BenefitDecision(actor=OFFICER, reasons="核查", **outcome)
        months = []
        for _ in range(2):
            with session_scope(own_database_url, writes=True) as session:
                months.append(decide_review(
                    session, review_no=review_no, recipient_no=number, decision=decision,
                    at=now, policy=Policy(),
                ))  # fmt: skip
        assert months[0] == months[1] == str(Month.at(now).plus(1))
    with session_scope(own_database_url) as session:
        trail = [e.action for e in audit_trail(session, case_no=number)]
        household = view_of(session.get(RecipientRecord, number))
    assert trail.count("benefit_continued") == trail.count("benefit_suspended") == 1
    assert len(household.course) == 2 and household.open_review is None
