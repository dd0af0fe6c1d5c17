"""The watch list's sources besides an ended benefit: a 低保 refusal near the line (低保边缘)
and a 支出型 临时救助 approved — put on the list with the case's record, once, however often the
record is written. Real API, worker and dev server."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import select

from domain.cases import CaseView
from store import watch
from store.db import session_scope
from store.records import view_of
from store.tables import CaseRecord, WatchEntry
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.api import application, eventually, key, survey, wait_for
from tests.helpers.people import id_number


async def watched(client, case_no: str, reason: str) -> dict:
    async def entries() -> list[dict]:
        answer = await client.get("/watch-list", params={"reason": reason, "page_size": 200})
        assert answer.status_code == 200, answer.text
        return [e for e in answer.json()["items"] if e["source"] == case_no]

    [entry] = await eventually(entries, lambda found: len(found) == 1)
    return entry


def entries_of(database_url: str, case_no: str) -> list[WatchEntry]:
    with session_scope(database_url) as session:
        return list(session.exec(select(WatchEntry).where(WatchEntry.source == case_no)))


async def refused_near_the_line(stack, name: str) -> str:
    """A 低保 application refused with ¥1500 a person: on the watch list."""
    applicant = {"name": name, "id_number": id_number(), "phone": "13800000000"}
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(COORDINATOR) as coordinator,
        stack.client(OFFICER) as officer,
    ):
        created = await assistant.post("/applications", json=application(applicant=applicant))
        case_no = created.json()["case_no"]
        # ¥3000 for two: ¥1500 a person, above the ¥1080 standard, below 1.5 × it
        await coordinator.post(
            f"/applications/{case_no}/survey",
            json=survey() | {"assessed_monthly_income": "3000.00"},
        )
        await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
        await assistant.post(
            f"/applications/{case_no}/review",
            json={"recommendation": "refuse", "reasons": "人均收入超过低保标准"},
        )
        decided = await officer.post(
            f"/applications/{case_no}/decision",
            json={"outcome": "refuse", "reasons": "人均收入超过低保标准"},
        )
        assert decided.json()["stage"] == "refused", decided.text
        assert decided.json()["watch"]["reason"] == "near_poverty"
    return case_no


async def test_a_dibao_refusal_near_the_line_is_watched_once(stack):
    case_no = await refused_near_the_line(stack, "卫边缘")
    async with stack.client(ASSISTANT) as assistant:
        entry = await watched(assistant, case_no, "near_poverty")
    assert entry["name"] == "卫边缘" and "*" in entry["id_number"]
    assert Decimal(entry["income_per_person"]) == Decimal("1500.00")
    assert entry["status"] == "watched" and entry["check_up_due"] > entry["since"]

    # the record written again (a retried activity, the refusal notice's write) adds nothing
    database = stack.settings.database_url
    with session_scope(database, writes=True) as session:
        view = view_of(session.get(CaseRecord, case_no))
        assert isinstance(view, CaseView) and view.watch is not None
        watch.watch_after_case(session, view, at=datetime.now(UTC))
    assert len(entries_of(database, case_no)) == 1


async def test_an_approved_temporary_assistance_is_watched(stack):
    body = application(
        assistance_type="temporary",
        expense="major_illness",
        applicant={"name": "蒋大病", "id_number": id_number(), "phone": "13800000000"},
    )
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(COORDINATOR) as coordinator,
        stack.client(OFFICER) as officer,
    ):
        created = await assistant.post("/applications", json=body)
        assert created.status_code == 201, created.text
        case_no = created.json()["case_no"]
        await coordinator.post(f"/applications/{case_no}/survey", json=survey())
        await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
        reviewed = await assistant.post(
            f"/applications/{case_no}/review",
            json={"recommendation": "approve", "reasons": "大病支出", "amount": "5000.00"},
        )
        assert reviewed.status_code == 200, reviewed.text
        await wait_for(assistant, case_no, lambda c: c["stage"] == "decision")
        decided = await officer.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "属实"}
        )
        assert decided.json()["stage"] == "approved", decided.text
        entry = await watched(assistant, case_no, "after_temporary")
    assert entry["name"] == "蒋大病" and entry["income_per_person"] is not None


async def test_a_refusal_far_from_the_line_is_not_watched(stack):
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(COORDINATOR) as coordinator,
        stack.client(OFFICER) as officer,
    ):
        case_no = (await assistant.post("/applications", json=application())).json()["case_no"]
        await coordinator.post(
            f"/applications/{case_no}/survey",
            json=survey() | {"assessed_monthly_income": "9000.00"},
        )
        await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
        await assistant.post(
            f"/applications/{case_no}/review",
            json={"recommendation": "refuse", "reasons": "收入较高"},
        )
        decided = await officer.post(
            f"/applications/{case_no}/decision",
            json={"outcome": "refuse", "reasons": "收入较高"},
        )
        assert decided.json()["watch"] is None
        await wait_for(officer, case_no, lambda c: c["refusal_notified_at"] is not None)
    assert entries_of(stack.settings.database_url, case_no) == []


async def test_a_worsened_check_up_opens_the_households_application_itself(stack):
    source = await refused_near_the_line(stack, "秦恶化")
    async with stack.client(ASSISTANT) as assistant:
        entry = await watched(assistant, source, "near_poverty")
        check_up = f"/watch-list/{entry['id']}/check-up"
        wrong = await assistant.post(
            check_up,
            json={"outcome": "unchanged", "note": "无变化", "open_application": True},
            headers=key(),
        )
        assert wrong.status_code == 422, wrong.text
        assert wrong.json()["detail"][0]["loc"] == ["body", "open_application"]
        unknown = await assistant.post(
            check_up,
            json={"outcome": "worsened", "note": "x", "open_application": True,
                  "assistance_type": "pension"},
            headers=key(),
        )  # fmt: skip
        assert unknown.status_code == 422
        assert unknown.json()["detail"][0]["loc"] == ["body", "assistance_type"]
        same = await watched(assistant, source, "near_poverty")
        assert same["last_check_up"] is None  # nothing written

        opened = await assistant.post(
            check_up,
            json={"outcome": "worsened", "note": "户主失业，收入骤降", "open_application": True},
            headers=key(),
        )
        assert opened.status_code == 200, opened.text
        answer = opened.json()
        assert answer["status"] == "application_opened" and answer["case_no"]
        assert answer["linked"] is False and answer["intake"] is None
        case = (await assistant.get(f"/applications/{answer['case_no']}")).json()
        assert case["channel"] == "proactive" and case["applicant_name"] == "秦恶化"
        assert case["assistance_type"] == "dibao" and case["stage"] == "survey"
        accepted = (await assistant.get(f"/applications/{answer['case_no']}/audit-trail")).json()
        assert f"watch-{entry['id']}" in accepted[0]["note"]

        again = await assistant.post(
            check_up,
            json={"outcome": "worsened", "note": "再次回访", "open_application": True},
            headers=key(),
        )
        assert again.status_code == 409  # no longer watched: its application is open
