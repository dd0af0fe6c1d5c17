"""The HTTP API end to end: real HTTP, a real worker, the Temporal dev server, a real database."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from api.main import create_app
from domain.cases import Actor, Role
from domain.policy import Policy
from store.calendar import packaged_years
from tests.helpers.actors import (
    ASSISTANT,
    COORDINATOR,
    OFFICER,
    approver_of,
    assistant_of,
    coordinator_of,
)
from tests.helpers.api import (
    application,
    emergency,
    key,
    shanghai_today,
    survey,
    trail,
    until,
    wait_for,
)
from tests.helpers.people import id_number, marked_id_number
from tests.helpers.people import phone as unique_phone
from tests.helpers.servers import serve
from tests.helpers.stack import Stack
from worker import create_worker

OTHER_TOWNSHIP = Actor(
    user_id="u-xuegong", name="雪宫助理", role=Role.township_assistant, jurisdiction="370305002"
)
ADMIN = Actor(user_id="u-admin", name="管理员", role=Role.admin, jurisdiction="370305")


async def test_a_case_goes_from_the_window_to_its_first_payment_over_http(stack, simulator_url):
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(COORDINATOR) as coordinator,
        stack.client(OFFICER) as officer,
    ):
        created = await assistant.post("/applications", json=application())
        assert created.status_code == 201, created.text
        case = created.json()
        case_no = case["case_no"]
        due = date.fromisoformat(case["decision_due"])
        assert case["stage"] == "survey" and due > date.fromisoformat(case["survey_due"])
        assert case["provisional"] == (due.year not in packaged_years())

        surveyed = await coordinator.post(f"/applications/{case_no}/survey", json=survey())
        assert surveyed.status_code == 200, surveyed.text
        await wait_for(assistant, case_no, lambda c: c["stage"] == "review")

        reviewed = await assistant.post(
            f"/applications/{case_no}/review",
            json={"recommendation": "approve", "reasons": "收入低于标准"},
        )
        assert reviewed.json()["stage"] == "notice", reviewed.text
        # 2 persons × 1080 urban standard − 400 assessed income
        assert reviewed.json()["monthly_amount"] == "1760.00"
        await wait_for(assistant, case_no, lambda c: c["stage"] == "decision")

        decided = await officer.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "符合条件"}
        )
        assert decided.json()["stage"] == "approved"
        await wait_for(officer, case_no, lambda c: c["first_payment_at"] is not None)

        trail = (await officer.get(f"/applications/{case_no}/audit-trail")).json()
        actions = [e["action"] for e in trail]
        assert actions[0] == "accepted" and actions[-1] == "first_payment_made"
        assert {
            "survey_recorded",
            "survey_completed",
            "review_approve",
            "notice_ended",
            "approved",
        } <= set(actions)
        assert all(e["user_id"] and e["role"] for e in trail)
        assert trail[0]["user_id"] == ASSISTANT.user_id and trail[0]["to_stage"] == "survey"

        listed = (await officer.get("/applications", params={"stage": "approved"})).json()
        assert case_no in [c["case_no"] for c in listed["items"]]

    async with httpx.AsyncClient(base_url=simulator_url) as sims:
        transfers = (await sims.get("/payment/transfers", params={"case_no": case_no})).json()
        sms = (await sims.get("/sms/messages", params={"phone": "13800000000"})).json()
    assert [t["amount"] for t in transfers] == ["1760.00"]
    assert {"accepted", "approved"} <= {m["template"] for m in sms if case_no in m["text"]}


async def test_a_refusal_is_sent_in_writing_with_its_reasons(stack, simulator_url):
    phone = unique_phone()  # the SMS simulator is shared: a number only this test uses
    async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
        body = application(applicant={"name": "王五", "id_number": id_number(), "phone": phone})
        case_no = (await assistant.post("/applications", json=body)).json()["case_no"]
        await assistant.post(f"/applications/{case_no}/survey", json=survey())
        await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
        proposed = await assistant.post(
            f"/applications/{case_no}/review",
            json={"recommendation": "refuse", "reasons": "有经营性收入"},
        )
        assert proposed.json()["stage"] == "decision"
        await officer.post(
            f"/applications/{case_no}/decision",
            json={"outcome": "refuse", "reasons": "家庭收入超过标准"},
        )
        case = await wait_for(officer, case_no, lambda c: c["refusal_notified_at"] is not None)
        assert case["stage"] == "refused" and case["refusal_notice_due"] is not None
    async with httpx.AsyncClient(base_url=simulator_url) as sims:
        sms = (
            await sims.get("/sms/messages", params={"phone": phone, "template": "refused"})
        ).json()
    assert len(sms) == 1 and "家庭收入超过标准" in sms[0]["text"]


async def test_an_approval_against_the_verification_findings_needs_its_reason(stack):
    spouse = {"name": "李四", "id_number": marked_id_number("19820202"), "relation": "spouse"}
    async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
        body = application(household=[spouse | {"monthly_income": "400.00"}])
        case_no = (await assistant.post("/applications", json=body)).json()["case_no"]
        await assistant.post(f"/applications/{case_no}/survey", json=survey())
        case = await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
        findings = case["verification_findings"]
        assert any("vehicle" in f for f in findings) and any("savings" in f for f in findings)
        await assistant.post(
            f"/applications/{case_no}/review",
            json={"recommendation": "approve", "reasons": "收入低于标准"},
        )
        await wait_for(assistant, case_no, lambda c: c["stage"] == "decision")
        before = await officer.get(f"/applications/{case_no}/audit-trail")

        plain = {"outcome": "approve", "reasons": "符合条件"}
        refused = await officer.post(f"/applications/{case_no}/decision", json=plain)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "mismatch_reason"]
        assert "vehicle" in refused.json()["detail"][0]["msg"]
        blank = await officer.post(
            f"/applications/{case_no}/decision", json=plain | {"mismatch_reason": " "}
        )
        assert blank.status_code == 422 and blank.json()["detail"][0]["loc"][-1] == (
            "mismatch_reason"
        )
        case = (await officer.get(f"/applications/{case_no}")).json()
        assert case["stage"] == "decision"
        after = await officer.get(f"/applications/{case_no}/audit-trail")
        assert after.json() == before.json()  # nothing written

        reason = "车辆系残疾人代步车，存款为大病医疗专项借款"
        decided = await officer.post(
            f"/applications/{case_no}/decision", json=plain | {"mismatch_reason": reason}
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["stage"] == "approved"
        trail = (await officer.get(f"/applications/{case_no}/audit-trail")).json()
        [noted] = [e for e in trail if e["action"] == "approved_against_verification"]
        assert reason in noted["note"] and noted["user_id"] == OFFICER.user_id


async def test_bad_requests_get_answers_a_caseworker_can_act_on(stack):
    async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
        bad_id = application(
            applicant={"name": "张三", "id_number": "370305198001010000", "phone": "13800000000"}
        )
        answer = await assistant.post("/applications", json=bad_id)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "applicant", "id_number"]
        assert "check digit" in answer.json()["detail"][0]["msg"]

        bad_phone = application(
            applicant={"name": "张三", "id_number": id_number(), "phone": "12345"}
        )
        assert (await assistant.post("/applications", json=bad_phone)).json()["detail"][0]["loc"][
            -1
        ] == "phone"

        elsewhere = application(
            hukou_township="370305100", resident_since=str(shanghai_today() - timedelta(days=365))
        )
        answer = await assistant.post("/applications", json=elsewhere)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == [
            "body",
            "resident_since",
        ]
        lived_long = application(hukou_township="370305100", resident_since="2015-03-01")
        assert (await assistant.post("/applications", json=lived_long)).status_code == 201

        body = application()
        first = (await assistant.post("/applications", json=body)).json()
        again = await assistant.post("/applications", json=body)
        assert again.status_code == 409 and first["case_no"] in again.json()["detail"]

        case_no = first["case_no"]
        early = await officer.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "x"}
        )
        assert early.status_code == 409
        assert "stage 'survey'" in early.json()["detail"] and "survey" in early.json()["detail"]

        one = await assistant.post(
            f"/applications/{case_no}/survey", json=survey() | {"investigators": ["李协理"]}
        )
        assert one.status_code == 422 and one.json()["detail"][0]["loc"] == [
            "body",
            "investigators",
        ]

        forbidden = await assistant.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "x"}
        )
        assert forbidden.status_code == 403

    async with stack.client(OTHER_TOWNSHIP) as other:
        assert (await other.get(f"/applications/{case_no}")).status_code == 404
        assert (
            await other.post(f"/applications/{case_no}/withdrawal", json={"reason": "x"})
        ).status_code == 404
        assert case_no not in [
            c["case_no"] for c in (await other.get("/applications")).json()["items"]
        ]
    async with stack.client() as anonymous:
        assert (await anonymous.get("/applications")).status_code == 401


async def test_a_retried_request_with_the_same_idempotency_key_has_one_effect(stack):
    key = str(uuid.uuid4())
    body = application()
    async with stack.client() as http:
        headers = stack.headers(ASSISTANT, idempotency_key=key)
        first = await http.post("/applications", json=body, headers=headers)
        second = await http.post("/applications", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json()["case_no"] == second.json()["case_no"]
        assert second.headers.get("Idempotent-Replayed") == "true"

        case_no = first.json()["case_no"]
        action_key = stack.headers(ASSISTANT, idempotency_key=str(uuid.uuid4()))
        requested = {"documents": ["户口簿"], "note": ""}
        for _ in range(2):
            answer = await http.post(
                f"/applications/{case_no}/documents-requested", json=requested, headers=action_key
            )
            assert answer.status_code == 200 and answer.json()["stage"] == "awaiting_documents"
        trail = (
            await http.get(f"/applications/{case_no}/audit-trail", headers=stack.headers(ASSISTANT))
        ).json()
        assert [e["action"] for e in trail].count("documents_requested") == 1


@pytest.fixture
def long_deadline_settings(api_settings, own_database_url):
    """A decision period long enough to reach a year whose holidays are not yet published, on
    a database of the test's own: the calendar it publishes moves no other test's deadlines."""
    return api_settings.model_copy(
        update={
            "database_url": own_database_url,
            "policy": Policy(notice_calendar_days=0, decision_working_days=400),
        }
    )


async def test_publishing_a_years_holidays_moves_provisional_deadlines(
    dev_env, long_deadline_settings
):
    from api.main import create_app
    from tests.helpers.servers import serve
    from tests.helpers.stack import Stack
    from worker import create_worker

    worker, external = create_worker(dev_env.client, long_deadline_settings)
    async with worker:
        with serve(create_app(long_deadline_settings)) as url:
            stack = Stack(url, long_deadline_settings)
            async with stack.client(ASSISTANT) as assistant, stack.client(ADMIN) as admin:
                case = (await assistant.post("/applications", json=application())).json()
                assert case["provisional"] is True
                due = date.fromisoformat(case["decision_due"])
                # The notice for the year of the due date: its first five weekdays are holidays.
                weekdays = [date(due.year, 1, 1) + timedelta(days=n) for n in range(14)]
                holidays = [d for d in weekdays if d.weekday() < 5][:5]
                published = await admin.put(
                    f"/calendar/{due.year}", json={"holidays": [str(d) for d in holidays]}
                )
                assert published.status_code == 200 and published.json()["cases_recomputed"] >= 1
                moved = await wait_for(
                    assistant, case["case_no"], lambda c: c["decision_due"] != case["decision_due"]
                )
                assert date.fromisoformat(moved["decision_due"]) > due
                trail = (await assistant.get(f"/applications/{case['case_no']}/audit-trail")).json()
                assert "calendar_published" in [e["action"] for e in trail]

                bad = await admin.put(f"/calendar/{due.year}", json={"holidays": ["1999-01-01"]})
                assert bad.status_code == 422
                assert (
                    await assistant.put(f"/calendar/{due.year}", json={"holidays": []})
                ).status_code == 403
    await external.close()


async def test_days_gone_by_cannot_be_rewritten_in_the_calendar(own_stack):
    """Every December day made a holiday on 12-04 once turned a late survey into one on time."""
    last_year = shanghai_today().year - 1  # every day of it is gone by
    async with own_stack.client(ADMIN) as admin:
        in_force = (await admin.get(f"/calendar/{last_year}")).json()
        holidays, workdays = set(in_force["holidays"]), set(in_force["workdays"])
        december = {str(date(last_year, 12, d)) for d in range(1, 32)}

        async def refused(holidays: set[str], workdays: set[str]) -> tuple[str, str]:
            body = {"holidays": sorted(holidays), "workdays": sorted(workdays)}
            answer = await admin.put(f"/calendar/{last_year}", json=body)
            assert answer.status_code == 422, answer.text
            [problem] = answer.json()["detail"]
            return problem["loc"][-1], problem["msg"]

        field, message = await refused(holidays | december, workdays)
        first_added = min(december - holidays)
        assert field == "holidays" and f"{first_added} (added)" in message
        assert "cannot be changed" in message and "more" in message  # ten named, not all
        field, message = await refused(holidays - {min(holidays)}, workdays)
        assert field == "holidays" and f"{min(holidays)} (removed)" in message
        saturday = next(
            day
            for n in range(365)
            if (day := date(last_year, 1, 1) + timedelta(days=n)).weekday() == 5
            and str(day) not in holidays | workdays
        )
        field, message = await refused(holidays, workdays | {str(saturday)})
        assert field == "workdays" and f"{saturday} (added)" in message
        assert (await admin.get(f"/calendar/{last_year}")).json() == in_force


async def test_a_correction_of_a_day_to_come_moves_an_emergencys_follow_up(own_stack):
    township, village = "370305001", "370305001001"
    async with (
        own_stack.client(assistant_of(township)) as assistant,
        own_stack.client(approver_of(township)) as approver,
        own_stack.client(coordinator_of(village)) as coordinator,
        own_stack.client(ADMIN) as admin,
    ):
        body = emergency(township, village)
        case_no = (await assistant.post("/emergencies", json=body, headers=key())).json()["case_no"]
        await approver.post(
            f"/emergencies/{case_no}/approval", json={"amount": "2000.00"}, headers=key()
        )
        paid = await until(approver, case_no, lambda c: c["stage"] == "paid")
        surveyed = await coordinator.post(
            f"/emergencies/{case_no}/survey",
            json={
                "investigators": ["李协理", "周干事"],
                "visited_on": str(shanghai_today()),
                "findings": "房屋烧毁属实",
                "household_monthly_income": "300.00",
            },
            headers=key(),
        )
        assert surveyed.json()["stage"] == "follow_up", surveyed.text
        due = date.fromisoformat(paid["follow_up_due"])  # a working day to come

        # The State Council makes the day the follow-up is due a holiday.
        year = (await admin.get(f"/calendar/{due.year}")).json()
        correction = {
            "holidays": sorted({*year["holidays"], str(due)}),
            "workdays": year["workdays"],
        }
        published = await admin.put(f"/calendar/{due.year}", json=correction)
        assert published.status_code == 200, published.text
        assert published.json()["cases_recomputed"] == 1

        moved = await until(approver, case_no, lambda c: c["follow_up_due"] != str(due))
        assert date.fromisoformat(moved["follow_up_due"]) > due
        assert moved["stage"] == "follow_up" and not moved["follow_up_overdue"]
        entries = [e for e in await trail(approver, case_no) if e["action"] == "calendar_published"]
        assert [e["note"] for e in entries] == [
            f"follow-up due {moved['follow_up_due']} (was {due})"
        ]


async def test_a_conflict_of_interest_is_recorded_and_surveyed_by_the_district(stack):
    declared = {"related_person": "李协理", "position": "village_committee", "relation": "兄弟"}
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(COORDINATOR) as coordinator,
        stack.client(OFFICER) as officer,
    ):
        case = (
            await assistant.post("/applications", json=application(conflict_of_interest=declared))
        ).json()
        assert case["conflict_of_interest"] is True
        refused = await coordinator.post(f"/applications/{case['case_no']}/survey", json=survey())
        assert refused.status_code == 403 and "district" in refused.json()["detail"]
        assert (
            await officer.post(f"/applications/{case['case_no']}/survey", json=survey())
        ).status_code == 200
        trail = (await officer.get(f"/applications/{case['case_no']}/audit-trail")).json()
        assert "近亲属备案" in trail[0]["note"]


async def test_a_withdrawn_case_is_closed_and_frees_the_household(stack):
    body = application()
    async with stack.client(ASSISTANT) as assistant:
        case_no = (await assistant.post("/applications", json=body)).json()["case_no"]
        withdrawn = await assistant.post(
            f"/applications/{case_no}/withdrawal", json={"reason": "家庭情况好转"}
        )
        assert withdrawn.json()["stage"] == "withdrawn" and withdrawn.json()["closed_at"]
        late = await assistant.post(f"/applications/{case_no}/survey", json=survey())
        assert late.status_code == 409 and "withdrawn" in late.json()["detail"]
        assert (await assistant.post("/applications", json=body)).status_code == 201


async def test_lists_filter_and_page_within_the_jurisdiction(stack):
    async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
        mine = set()
        for _ in range(3):
            created = await assistant.post("/applications", json=application())
            assert created.status_code == 201
            mine.add(created.json()["case_no"])
        page = (
            await assistant.get("/applications", params={"page_size": 2, "stage": "survey"})
        ).json()
        assert len(page["items"]) == 2 and page["total"] >= 3
        assert all(c["township"] == "370305001" and c["stage"] == "survey" for c in page["items"])
        second = (
            await assistant.get(
                "/applications", params={"page_size": 2, "page": 2, "stage": "survey"}
            )
        ).json()
        assert not {c["case_no"] for c in page["items"]} & {c["case_no"] for c in second["items"]}
        # Other tests' cases share the database: the filter shows that township's, none of these.
        elsewhere = (
            await officer.get("/applications", params={"township": "370305002", "page_size": 200})
        ).json()["items"]
        assert all(c["township"] == "370305002" for c in elsewhere)
        assert not mine & {c["case_no"] for c in elsewhere}
        assert (
            await assistant.get("/applications", params={"stage": "nonsense"})
        ).status_code == 422


async def test_townships_are_reference_data_the_admin_edits(own_stack):
    """On a database of its own: it rewrites a township's villages."""
    async with own_stack.client(ASSISTANT) as assistant, own_stack.client(ADMIN) as admin:
        townships = (await assistant.get("/townships")).json()
        assert len(townships) == 12 and townships[0]["code"] == "370305001"
        assert townships[0]["name"] == "闻韶街道" and townships[0]["area"] == "urban"
        edited = await admin.put(
            "/townships/370305106",
            json={
                "name": "金山镇",
                "area": "rural",
                "villages": [
                    {"code": "370305106201", "name": "金山村"},
                    {"code": "370305106299", "name": "新建村"},
                ],
            },
        )
        assert edited.status_code == 200 and [v["name"] for v in edited.json()["villages"]] == [
            "金山村",
            "新建村",
        ]
        assert (await assistant.put("/townships/370305106", json=edited.json())).status_code == 403
        # A township added later opens its reserve at the minimum, as the first ones were.
        added = await admin.put(
            "/townships/370305120",
            json={
                "name": "新设镇",
                "area": "rural",
                "villages": [{"code": "370305120201", "name": "新村"}],
            },
        )
        assert added.status_code == 200, added.text
        reserve = (await admin.get("/townships/370305120/reserve")).json()
        assert (Decimal(reserve["balance"]), reserve["below_minimum"]) == (Decimal("50000"), False)
        ledger = (await admin.get("/townships/370305120/reserve/ledger")).json()
        [opening] = ledger["items"]
        assert (opening["kind"], Decimal(opening["amount"])) == ("top_up", Decimal("50000"))
        bad = await admin.put(
            "/townships/370305106",
            json={
                "name": "x",
                "area": "rural",
                "villages": [{"code": "370305001999", "name": "x"}],
            },
        )
        assert bad.status_code == 422
        await assistant.post("/applications", json=application(village="370305001003"))
        emptied = await admin.put(
            "/townships/370305001", json={"name": "闻韶街道", "area": "urban", "villages": []}
        )
        assert emptied.status_code == 409 and "370305001003" in emptied.json()["detail"]


async def test_with_no_worker_reads_still_answer_and_actions_answer_503_then_retry_safely(
    dev_env, api_settings
):
    settings = api_settings.model_copy(update={"action_timeout_seconds": 2})
    with serve(create_app(settings)) as url:
        stack = Stack(url, settings)
        async with stack.client(ASSISTANT) as assistant:
            case = (await assistant.post("/applications", json=application())).json()
            case_no = case["case_no"]
            read = await assistant.get(f"/applications/{case_no}")
            assert read.status_code == 200 and read.json()["stage"] == "survey"

            key = {"Idempotency-Key": str(uuid.uuid4())}
            stalled = await assistant.post(
                f"/applications/{case_no}/survey", json=survey(), headers=key
            )
            assert stalled.status_code == 503 and "same Idempotency-Key" in stalled.json()["detail"]

            worker, external = create_worker(dev_env.client, settings)
            async with worker:
                retried = await assistant.post(
                    f"/applications/{case_no}/survey", json=survey(), headers=key
                )
                assert retried.status_code == 200, retried.text
                trail = (await assistant.get(f"/applications/{case_no}/audit-trail")).json()
            await external.close()
    assert [e["action"] for e in trail].count("survey_recorded") == 1


async def test_an_unreachable_database_answers_503_not_a_stack_trace(
    dev_env, api_settings, tmp_path
):
    gone = api_settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path}/missing/dir/jiuzhu.db"}
    )
    with serve(create_app(gone)) as url:
        async with Stack(url, gone).client(ASSISTANT) as assistant:
            answer = await assistant.get("/applications")
    assert answer.status_code == 503 and "try again" in answer.json()["detail"]


async def test_a_village_not_its_township_decides_the_urban_or_rural_standard(stack):
    # 召口村 is a 村 of 稷下街道: its households get the rural standard (¥880 in 2026)
    zhaokou = Actor(
        user_id="u-jixia", name="稷下助理", role=Role.township_assistant, jurisdiction="370305004"
    )
    async with stack.client(zhaokou) as assistant:
        body = application(township="370305004", village="370305004003")
        case_no = (await assistant.post("/applications", json=body)).json()["case_no"]
        income = survey() | {"household_monthly_income": "400.00"}
        del income["assessed_monthly_income"]
        assert (
            await assistant.post(f"/applications/{case_no}/survey", json=income)
        ).status_code == 200
        await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
        reviewed = await assistant.post(
            f"/applications/{case_no}/review",
            json={"recommendation": "approve", "reasons": "收入低"},
        )
        assert reviewed.json()["monthly_amount"] == "1360.00"  # 2 × 880 − 400
        townships = (await assistant.get("/townships")).json()
    jixia = next(t for t in townships if t["code"] == "370305004")
    assert {v["name"]: v["area"] for v in jixia["villages"]}["召口村"] == "rural"


async def test_a_temporary_application_may_be_for_a_disasters_transition_or_any_other_expense(
    stack,
):
    """支出型临时救助 for any expenditure, each with its band: disaster transition
    (过渡期生活救助) 1–6 × and any other 1–3 × the urban standard (placeholders)."""
    async with stack.client(ASSISTANT) as assistant, stack.client(COORDINATOR) as coordinator:
        unknown = await assistant.post(
            "/applications", json=application(assistance_type="temporary", expense="holiday")
        )
        assert unknown.status_code == 422
        assert any(p["loc"][-1] == "expense" for p in unknown.json()["detail"])
        for expense, above, within in (
            ("disaster_transition", "6480.01", "6480.00"),
            ("other", "3240.01", "1080.00"),
        ):
            body = application(assistance_type="temporary", expense=expense, reason="房屋倒塌")
            created = await assistant.post("/applications", json=body)
            assert created.status_code == 201, created.text
            case_no = created.json()["case_no"]
            await coordinator.post(f"/applications/{case_no}/survey", json=survey())
            await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
            review = {"recommendation": "approve", "reasons": "受灾，过渡期生活困难"}
            too_much = await assistant.post(
                f"/applications/{case_no}/review", json=review | {"amount": above}
            )
            assert too_much.status_code == 422, too_much.text
            assert too_much.json()["detail"][0]["loc"][-1] == "amount"
            reviewed = await assistant.post(
                f"/applications/{case_no}/review", json=review | {"amount": within}
            )
            assert reviewed.status_code == 200, reviewed.text
            assert (
                reviewed.json()["stage"] == "notice" and reviewed.json()["monthly_amount"] == within
            )
