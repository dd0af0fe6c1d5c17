"""The watch list (低保边缘、动态监测): a household whose benefit ended after a review is put on
it with a check-up date; the township reads it (masked) and records check-ups; an overdue
check-up shows in the supervision list; bad input is refused naming its field. The dates'
rules alone (``domain.watch``) first."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.benefits import BenefitDecision
from domain.calendar import local_date
from domain.cases import Role
from domain.errors import InvalidData, NotPermitted
from domain.policy import Policy
from domain.watch import CheckUp, after_check_up, check_check_up, is_near_poverty, watch_dates
from store.db import session_scope
from store.reviews import decide_review, open_review
from store.tables import WatchEntry
from tests.helpers.actors import OFFICER, SUPERVISOR, actor, assistant_of
from tests.helpers.api import key
from tests.helpers.cases import households
from tests.helpers.stack import RING

VILLAGE = "370305100201"
TOWNSHIP = VILLAGE[:9]


def test_a_watch_runs_for_its_period_with_check_ups_at_the_cadence():
    policy = Policy()  # 12 months, a check-up each 3
    dates = watch_dates(date(2026, 1, 31), policy)
    assert (dates.check_up_due, dates.watch_until) == (date(2026, 4, 30), date(2027, 1, 31))
    assert after_check_up("unchanged", on=date(2026, 5, 2), watch_until=dates.watch_until,
                          policy=policy) == ("watched", date(2026, 8, 2))  # fmt: skip
    assert after_check_up("unchanged", on=date(2026, 12, 1), watch_until=dates.watch_until,
                          policy=policy) == ("watched", dates.watch_until)  # fmt: skip
    assert after_check_up("unchanged", on=dates.watch_until, watch_until=dates.watch_until,
                          policy=policy)[0] == "ended"  # fmt: skip
    assert after_check_up("improved", on=date(2026, 3, 1), watch_until=dates.watch_until,
                          policy=policy)[0] == "ended"  # fmt: skip
    assert is_near_poverty(Decimal("1500"), Decimal("1080"), policy)  # below 1620
    assert not is_near_poverty(Decimal("1620"), Decimal("1080"), policy)
    assistant = assistant_of(TOWNSHIP)
    for check_up, status, field in (
        (CheckUp(assistant, "lottery", "x"), "watched", "outcome"),
        (CheckUp(assistant, "unchanged", " "), "watched", "note"),
    ):
        with pytest.raises(InvalidData) as refused:
            check_check_up(check_up, status=status)
        assert refused.value.field == field
    with pytest.raises(NotPermitted):
        check_check_up(CheckUp(OFFICER, "unchanged", "x"), status="watched")


async def test_a_household_whose_benefit_ended_is_watched_and_checked_up(own_stack):
    stack = own_stack
    database = stack.settings.database_url
    [number] = households(database, 1, villages=(VILLAGE,))
    now = datetime.now(UTC)
    with session_scope(database, writes=True) as session:
        review_no = open_review(
            session, recipient_no=number, kind="out_of_cycle", reason="收入增加", actor=OFFICER,
            now=now, policy=Policy(), ring=RING, today=local_date(now),
        ).review_no  # fmt: skip
        decide_review(
            session, review_no=review_no, recipient_no=number,
            decision=BenefitDecision(actor=OFFICER, outcome="terminate", reasons="家庭收入超标"),
            at=now, policy=Policy(),
        )  # fmt: skip
    async with (
        stack.client(assistant_of(TOWNSHIP)) as township,
        stack.client(assistant_of("370305001")) as elsewhere,
        stack.client(SUPERVISOR) as supervisor,
    ):
        listed = (await township.get("/watch-list")).json()
        [entry] = listed["items"]
        assert (entry["reason"], entry["source"], entry["status"]) == (
            "benefit_ended", number, "watched",
        )  # fmt: skip
        assert "*" in entry["id_number"]  # masked
        assert entry["check_up_due"] > entry["since"]
        assert (await elsewhere.get("/watch-list")).json()["total"] == 0
        path = f"/watch-list/{entry['id']}/check-up"
        assert (await elsewhere.post(path, json={"outcome": "unchanged", "note": "x"})).status_code == 404  # fmt: skip
        refused = await township.post(path, json={"outcome": "lottery", "note": "x"})
        assert refused.status_code == 422 and "outcome" in refused.text

        # Its check-up overdue: a reminder in the supervision list, read by date.
        with session_scope(database, writes=True) as session:
            row = session.get(WatchEntry, entry["id"])
            row.check_up_due = local_date(now) - timedelta(days=3)
            session.add(row)
        stuck = (await supervisor.get("/supervision/stuck", params={"kind": "watch"})).json()
        assert [(r["case_no"], r["reason"]) for r in stuck["items"]] == [
            (f"watch-{entry['id']}", "check_up_overdue")
        ]
        checked = await township.post(
            path, json={"outcome": "worsened", "note": "户主失业，收入下降"}, headers=key()
        )
        assert checked.status_code == 200, checked.text
        after = checked.json()
        assert after["status"] == "watched" and after["check_up_due"] > str(local_date(now))
        assert after["intake"]["channel"] == "proactive" and after["intake"]["source"] == number
        stuck = (await supervisor.get("/supervision/stuck", params={"kind": "watch"})).json()
        assert stuck["total"] == 0
        ended = await township.post(path, json={"outcome": "improved", "note": "已稳定就业"})
        assert ended.json()["status"] == "ended"
        again = await township.post(path, json={"outcome": "unchanged", "note": "x"})
        assert again.status_code == 409
        assert (await township.get("/watch-list")).json()["total"] == 0
        assert (await township.get("/watch-list", params={"status": "ended"})).json()["total"] == 1
        coordinator = actor(Role.village_coordinator, VILLAGE)
    async with stack.client(coordinator) as village:
        assert (await village.get("/watch-list", params={"status": "ended"})).json()["total"] == 1
