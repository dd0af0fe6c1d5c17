"""衔接 (seed §5): the district's confirmation of an emergency's follow-up says what follows —
the family's 低保 or 特困 application opened (channel ``proactive``, naming the emergency), or
the family on the watch list — over real HTTP, with a real worker on the dev server.

Each test works in a township of its own (the reserves are shared by the session)."""

from datetime import UTC, datetime

from domain.calendar import local_date
from tests.helpers.actors import OFFICER, approver_of, assistant_of, coordinator_of
from tests.helpers.api import emergency, key, trail, until

TOWNSHIP, VILLAGE = "370305005", "370305005002"


async def follow_up_done(stack, body: dict) -> str:
    """An emergency paid, surveyed and reviewed: it waits for the district's confirmation."""
    async with (
        stack.client(assistant_of(TOWNSHIP)) as assistant,
        stack.client(approver_of(TOWNSHIP)) as approver,
        stack.client(coordinator_of(VILLAGE)) as coordinator,
    ):
        created = await assistant.post("/emergencies", json=body, headers=key())
        assert created.status_code == 201, created.text
        case_no = created.json()["case_no"]
        await approver.post(
            f"/emergencies/{case_no}/approval", json={"amount": "1000.00"}, headers=key()
        )
        await until(approver, case_no, lambda c: c["stage"] == "paid")
        survey = {
            "investigators": ["李协理", "周干事"],
            "visited_on": str(local_date(datetime.now(UTC))),
            "findings": "火灾属实；夫妻二人均无稳定收入",
            "household_monthly_income": "300.00",
        }
        surveyed = await coordinator.post(
            f"/emergencies/{case_no}/survey", json=survey, headers=key()
        )
        assert surveyed.status_code == 200, surveyed.text
        reviewed = await assistant.post(
            f"/emergencies/{case_no}/review",
            json={"recommendation": "approve", "reasons": "情况属实，长期困难"},
            headers=key(),
        )
        assert reviewed.status_code == 200, reviewed.text
    return case_no


async def test_the_follow_up_opens_the_familys_dibao_application_once(stack):
    body = emergency(TOWNSHIP, VILLAGE, name="韩大火")
    case_no = await follow_up_done(stack, body)
    decision = f"/emergencies/{case_no}/decision"
    async with stack.client(OFFICER) as officer:
        unknown = await officer.post(
            decision,
            json={"outcome": "approve", "reasons": "属实", "next_step": "pension"},
            headers=key(),
        )
        assert unknown.status_code == 422
        assert unknown.json()["detail"][0]["loc"] == ["body", "next_step"]
        assert (await officer.get(f"/emergencies/{case_no}")).json()["stage"] == "follow_up"

        asked = {
            "outcome": "approve",
            "reasons": "家庭长期困难，转入低保",
            "next_step": "dibao_application",
        }
        same = key()
        confirmed = await officer.post(decision, json=asked, headers=same)
        assert confirmed.status_code == 200, confirmed.text
        answer = confirmed.json()
        assert answer["stage"] == "closed" and answer["next_step"] == "dibao_application"
        opened = answer["next_case_no"]
        assert opened and not answer["next_step_linked"]
        again = await officer.post(decision, json=asked, headers=same)  # a retried request
        assert again.status_code == 200 and again.json()["next_case_no"] == opened

        application = (await officer.get(f"/applications/{opened}")).json()
        assert application["assistance_type"] == "dibao" and application["stage"] == "survey"
        assert application["channel"] == "proactive" and application["emergency_no"] == case_no
        assert application["applicant_name"] == "韩大火" and application["household_size"] == 2
        accepted = (await officer.get(f"/applications/{opened}/audit-trail")).json()[0]
        assert accepted["action"] == "accepted" and case_no in accepted["note"]
        [closing] = [
            e for e in await trail(officer, case_no) if e["action"] == "confirmed_eligible"
        ]
        assert "dibao_application" in closing["note"]


async def test_a_household_with_an_open_application_is_linked_not_doubled(stack):
    body = emergency(TOWNSHIP, VILLAGE, name="郑小灾")
    async with stack.client(assistant_of(TOWNSHIP)) as assistant:
        family = {"applicant": body["applicant"], "household": body["household"]}
        open_one = await assistant.post(
            "/applications",
            json={
                "assistance_type": "dibao", "township": TOWNSHIP, "village": VILLAGE,
                "channel": "walk_in", "reason": "失业", **family,
            },
            headers=key(),
        )  # fmt: skip
        assert open_one.status_code == 201, open_one.text
    case_no = await follow_up_done(stack, body)
    async with stack.client(OFFICER) as officer:
        confirmed = await officer.post(
            f"/emergencies/{case_no}/decision",
            json={"outcome": "approve", "reasons": "属实", "next_step": "dibao_application"},
            headers=key(),
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["next_case_no"] == open_one.json()["case_no"]
        assert confirmed.json()["next_step_linked"] is True


async def test_the_follow_up_puts_the_family_on_the_watch_list(stack):
    body = emergency(TOWNSHIP, VILLAGE, name="冯近贫")
    case_no = await follow_up_done(stack, body)
    async with stack.client(OFFICER) as officer, stack.client(assistant_of(TOWNSHIP)) as assistant:
        confirmed = await officer.post(
            f"/emergencies/{case_no}/decision",
            json={
                "outcome": "approve",
                "reasons": "暂不符合低保，列入监测",
                "next_step": "watch_list",
            },
            headers=key(),
        )
        assert confirmed.status_code == 200, confirmed.text
        entry_id = confirmed.json()["watch_entry_id"]
        assert entry_id and confirmed.json()["next_case_no"] is None
        listed = await assistant.get(
            "/watch-list", params={"township": TOWNSHIP, "reason": "after_emergency"}
        )
        [entry] = [e for e in listed.json()["items"] if e["id"] == entry_id]
        assert entry["source"] == case_no and entry["name"] == "冯近贫"
        assert "*" in entry["id_number"] and entry["status"] == "watched"


async def test_without_a_next_step_nothing_follows(stack):
    case_no = await follow_up_done(stack, emergency(TOWNSHIP, VILLAGE, name="楚无事"))
    async with stack.client(OFFICER) as officer:
        confirmed = await officer.post(
            f"/emergencies/{case_no}/decision",
            json={"outcome": "approve", "reasons": "属实"},
            headers=key(),
        )
        assert confirmed.status_code == 200, confirmed.text
        answer = confirmed.json()
        assert answer["next_step"] is None and answer["next_case_no"] is None
        assert answer["watch_entry_id"] is None
