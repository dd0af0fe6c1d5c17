"""Supervisors find every case that is not moving, and move it (督办). Each reason is produced
for real — the payment system failing and refusing, the verification platform refusing, a
worker running a broken workflow, a record whose workflow was never started, a person sitting
on a case — and each action really moves the case."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlmodel import select, update
from temporalio import workflow
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from api.main import create_app
from api.models import ApplicationCreate
from domain.calendar import local_date
from domain.cases import Actor, Role
from domain.supervision import NO_WORKFLOW, Reason
from services.intake import accept
from services.supervision import ORDER
from store import reserve
from store.db import Database, get_engine, session_scope
from store.tables import ActivityRetry, CaseRecord
from tests.helpers.actors import ASSISTANT, OFFICER, approver_of, assistant_of
from tests.helpers.api import (
    application,
    intervene,
    key,
    survey,
    to_decision,
    transfers,
    until,
    wait_for,
)
from tests.helpers.api import emergency as emergency_request
from tests.helpers.api import flood_emergency as emergency
from tests.helpers.servers import serve
from tests.helpers.stack import Stack
from tests.helpers.workflows import activity_runs
from watches.engine import mark_engine_problems
from workflows.client import application_workflow_id

SUPERVISOR = Actor(
    user_id="u-supervisor", name="钱督办", role=Role.supervisor, jurisdiction="370305"
)
AUDITOR = Actor(user_id="u-auditor", name="孙审计", role=Role.auditor, jurisdiction="370305")


async def stuck(http: httpx.AsyncClient, case_no: str, **params) -> list[dict]:
    """The case's rows in the list (every page: other tests' cases share the database)."""
    rows, page = [], 1
    while True:
        answer = await http.get(
            "/supervision/stuck", params={"page_size": 200, "page": page, **params}
        )
        assert answer.status_code == 200, answer.text
        rows += [row for row in answer.json()["items"] if row["case_no"] == case_no]
        if page * 200 >= answer.json()["total"]:
            return rows
        page += 1


async def eventually(check, timeout: float = 30):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if result := await check():
            return result
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.2)


async def test_a_person_sitting_on_a_case_is_found_and_the_case_reassigned_and_escalated(stack):
    async with stack.client(ASSISTANT) as assistant, stack.client(SUPERVISOR) as supervisor:
        case_no = (await assistant.post("/applications", json=application())).json()["case_no"]
        await wait_for(assistant, case_no, lambda c: c["verification"] is not None)
        with session_scope(stack.settings.database_url, writes=True) as session:
            ten_days_ago = datetime.now(UTC) - timedelta(days=14)
            session.exec(
                update(CaseRecord)
                .where(CaseRecord.case_no == case_no)
                .values(stage_since=ten_days_ago)
            )
        [row] = [r for r in await stuck(supervisor, case_no) if r["reason"] == "waiting_on_person"]
        assert row["stage"] == "survey" and "working days" in row["detail"]
        assert ASSISTANT.user_id in row["waits_for"] and "reassign" in row["actions"]

        moved = await intervene(
            supervisor, case_no, "reassign", assignee="u-zhou", reason="原经办人休假"
        )
        assert moved.status_code == 200 and moved.json()["assignee"] == "u-zhou"
        assert not [
            r for r in await stuck(supervisor, case_no) if r["reason"] == "waiting_on_person"
        ]
        escalated = await intervene(supervisor, case_no, "escalate", reason="请区局督促")
        assert escalated.status_code == 200
        trail = [
            e["action"]
            for e in (await supervisor.get(f"/applications/{case_no}/audit-trail")).json()
        ]
        assert trail[-2:] == ["reassigned", "escalated"]
    async with stack.client(OFFICER) as officer:
        notices = (await officer.get("/notifications")).json()
        assert any(n["case_no"] == case_no and n["kind"] == "escalated" for n in notices)


async def test_a_retrying_payment_is_read_from_the_engine_and_run_now(
    stack, dev_env, simulator_url, faults
):
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(OFFICER) as officer,
        stack.client(SUPERVISOR) as supervisor,
        httpx.AsyncClient(base_url=simulator_url) as simulators,
    ):
        case_no = (await assistant.post("/applications", json=application())).json()["case_no"]
        await to_decision(assistant, case_no)
        faults(service="payment", fail_next=1000, status=503)
        await officer.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "符合"}
        )

        async def retrying() -> list[dict]:
            rows = [r for r in await stuck(supervisor, case_no) if r["reason"] == "retrying"]
            return (
                rows
                if rows and rows[0]["retries"] and rows[0]["retries"][0]["attempt"] >= 3
                else []
            )

        [row] = await eventually(retrying)
        [retry] = row["retries"]
        assert retry["activity"] == "make_payment" and "503" in retry["last_failure"]
        assert retry["next_attempt_at"] and "retry_now" in row["actions"]
        await simulators.delete("/_faults")  # the payment system is back
        assert not await transfers(simulators, case_no)

        ran = await intervene(supervisor, case_no, "retry-now", reason="支付系统已恢复")
        assert ran.status_code == 200, ran.text
        await wait_for(officer, case_no, lambda c: c["first_payment_at"] is not None)
        assert len(await transfers(simulators, case_no)) == 1  # paid once
        # The call was made again from its first attempt, as retry-now does; left to itself,
        # the engine would have made it as attempt 3 or later, on its own schedule.
        handle = dev_env.client.get_workflow_handle(application_workflow_id(case_no))
        [payment] = await activity_runs(handle, "make_payment")
        assert payment.attempt == 1, payment.attempt
        with session_scope(stack.settings.database_url) as session:
            assert not session.exec(
                select(ActivityRetry).where(ActivityRetry.case_no == case_no)
            ).all()
        assert not await stuck(supervisor, case_no)


async def test_a_refused_verification_is_found_and_asked_again(stack, faults):
    async with stack.client(ASSISTANT) as assistant, stack.client(SUPERVISOR) as supervisor:
        faults(service="verification", fail_next=1, status=422)
        case_no = (await assistant.post("/applications", json=application())).json()["case_no"]

        async def refused() -> list[dict]:
            return [
                r
                for r in await stuck(supervisor, case_no)
                if r["reason"] == "refused_by_external_system"
            ]

        [row] = await eventually(refused)
        assert "verification" in row["detail"] and "reverify" in row["actions"]
        assert (
            await intervene(supervisor, case_no, "reverify", reason="平台已修正数据")
        ).status_code == 200
        await wait_for(assistant, case_no, lambda c: c["verification"] is not None)
        assert not await refused()
        await assistant.post(f"/applications/{case_no}/survey", json=survey())
        await wait_for(assistant, case_no, lambda c: c["stage"] == "review")


async def test_a_refused_payment_account_is_found(stack):
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(OFFICER) as officer,
        stack.client(SUPERVISOR) as supervisor,
    ):
        body = application()
        body["bank_account"]["account_no"] = "0001234567"  # a closed account
        case_no = (await assistant.post("/applications", json=body)).json()["case_no"]
        await to_decision(assistant, case_no)
        await officer.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "符合"}
        )

        async def refused() -> list[dict]:
            return [
                r
                for r in await stuck(supervisor, case_no)
                if r["reason"] == "refused_by_external_system"
            ]

        [row] = await eventually(refused)
        assert "payment" in row["detail"] and row["stage"] == "approved"


@workflow.defn(name="ApplicationWorkflow")
class BadDeploy:
    """What a broken release looks like to the engine: every workflow task fails."""

    @workflow.run
    async def run(self, case: dict) -> None:
        raise RuntimeError("a bad deploy")


async def test_a_workflow_whose_task_keeps_failing_is_found(dev_env, api_settings):
    settings = api_settings.model_copy(update={"task_queue": f"broken-{uuid.uuid4()}"})
    async with Worker(
        dev_env.client, task_queue=settings.task_queue, workflows=[BadDeploy],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):  # fmt: skip
        with serve(create_app(settings)) as url:
            stack = Stack(url, settings)
            async with stack.client(ASSISTANT) as assistant, stack.client(SUPERVISOR) as supervisor:
                case_no = (await assistant.post("/applications", json=application())).json()[
                    "case_no"
                ]
                db = Database(settings.database_url)

                async def found() -> list[dict]:
                    await mark_engine_problems(dev_env.client, db, now=datetime.now(UTC))
                    return [
                        r
                        for r in await stuck(supervisor, case_no)
                        if r["reason"] == "engine_problem"
                    ]

                [row] = await eventually(found, timeout=60)
                assert "keeps failing" in row["detail"] and "WorkflowTaskFailed" in row["detail"]
                await dev_env.client.get_workflow_handle(f"application-{case_no}").terminate(
                    "test over"
                )


async def test_a_record_whose_workflow_never_started_is_found_and_started(stack, dev_env):
    db = Database(stack.settings.database_url)
    intake = ApplicationCreate.model_validate(application()).intake()
    accepted_at = datetime.now(UTC) - timedelta(minutes=5)  # the API died right after the record
    start = await db.write(
        accept, application=intake, user=ASSISTANT, accepted_at=accepted_at,
        policy=stack.settings.policy, ring=stack.settings.key_ring(),
    )  # fmt: skip
    # What was accepted is kept sealed: the raw row holds no ID number, phone or account.
    with get_engine(stack.settings.database_url).connect() as connection:
        kept = connection.execute(
            sa.text("SELECT start FROM case_record WHERE case_no = :c"), {"c": start.case_no}
        ).scalar_one()
    assert kept.startswith("aes-gcm:")
    for secret in (start.applicant.id_number, start.applicant.phone, start.bank_account.account_no):
        assert secret not in kept
    async with stack.client(SUPERVISOR) as supervisor, stack.client(ASSISTANT) as assistant:
        await mark_engine_problems(dev_env.client, db, now=datetime.now(UTC))
        [row] = [
            r for r in await stuck(supervisor, start.case_no) if r["reason"] == "engine_problem"
        ]
        assert row["detail"] == NO_WORKFLOW and row["actions"] == ["restart_orphan", "cancel"]
        restarted = await intervene(
            supervisor, start.case_no, "restart-orphan", reason="受理时系统故障"
        )
        assert restarted.status_code == 200, restarted.text
        case = await wait_for(assistant, start.case_no, lambda c: c["verification"] is not None)
        assert case["stage"] == "survey"
        trail = [
            e["action"]
            for e in (await assistant.get(f"/applications/{start.case_no}/audit-trail")).json()
        ]
        assert trail[0] == "accepted" and "workflow_restarted" in trail
        assert not [
            r for r in await stuck(supervisor, start.case_no) if r["reason"] == "engine_problem"
        ]
        again = await intervene(supervisor, start.case_no, "restart-orphan", reason="再试")
        assert again.status_code == 409 and "has its workflow" in again.json()["detail"]


async def test_reopen_extend_and_cancel_move_the_case_and_stay_on_the_record(stack):
    async with stack.client(ASSISTANT) as assistant, stack.client(SUPERVISOR) as supervisor:
        case_no = (await assistant.post("/applications", json=application())).json()["case_no"]
        await to_decision(assistant, case_no)
        before = (await assistant.get(f"/applications/{case_no}")).json()

        extended = await intervene(
            supervisor, case_no, "extend-deadline", working_days=5, reason="需补充调查"
        )
        assert extended.status_code == 200, extended.text
        case = extended.json()
        assert case["decision_due"] > before["decision_due"]
        assert case["original_decision_due"] == before["original_decision_due"]
        assert case["extended_working_days"] == 5

        reopened = await intervene(
            supervisor, case_no, "reopen", to_stage="review", reason="初审意见记录错误"
        )
        assert reopened.status_code == 200 and reopened.json()["stage"] == "review"
        back_to = await intervene(supervisor, case_no, "reopen", to_stage="paid", reason="x")
        assert back_to.status_code == 422 and back_to.json()["detail"][0]["loc"] == [
            "body",
            "to_stage",
        ]

        cancelled = await intervene(supervisor, case_no, "cancel", reason="重复录入")
        assert cancelled.status_code == 200 and cancelled.json()["stage"] == "cancelled"
        trail = (await assistant.get(f"/applications/{case_no}/audit-trail")).json()
        actions = [e["action"] for e in trail]
        assert actions[-3:] == ["deadline_extended", "reopened", "cancelled"]
        assert "review_approve" in actions  # the step corrected is never erased
        assert all(e["note"] for e in trail[-3:])


async def extended_totals(http: httpx.AsyncClient) -> tuple[int, int]:
    """Today's compliance report for township 370305001: decided applications extended, and
    the working days their extensions added."""
    today = str(local_date(datetime.now(UTC)))
    period = {"from": today, "to": today, "township": "370305001", "kind": "application"}
    report = await http.get("/audit/compliance", params=period)
    assert report.status_code == 200, report.text
    total = report.json()["applications"]["total"]
    return total["extended"], total["extended_working_days"]


async def test_extensions_stop_at_the_cap_for_a_supervisor_and_the_district_goes_beyond(stack):
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(SUPERVISOR) as supervisor,
        stack.client(OFFICER) as officer,
    ):
        case_no = (await assistant.post("/applications", json=application())).json()["case_no"]
        await to_decision(assistant, case_no)
        before = await extended_totals(supervisor)

        # Twelve extensions of 30 working days each once moved a deadline by a year and a half.
        first = await intervene(
            supervisor, case_no, "extend-deadline", working_days=30, reason="需异地核查"
        )
        assert first.status_code == 200, first.text
        assert first.json()["extended_working_days"] == 30
        again = await intervene(
            supervisor, case_no, "extend-deadline", working_days=30, reason="仍需核查"
        )
        assert again.status_code == 422, again.text
        [problem] = again.json()["detail"]
        assert problem["loc"] == ["body", "working_days"]
        assert "0 remain" in problem["msg"] and "district officer" in problem["msg"]
        assert (await assistant.get(f"/applications/{case_no}")).json()[
            "decision_due"
        ] == first.json()["decision_due"]

        beyond = await intervene(
            officer, case_no, "extend-deadline", working_days=5, reason="区局同意再延期"
        )
        assert beyond.status_code == 200, beyond.text
        assert beyond.json()["extended_working_days"] == 35
        assert beyond.json()["decision_due"] > first.json()["decision_due"]
        escalation = await intervene(officer, case_no, "escalate", reason="x")
        assert escalation.status_code == 403  # the district's one intervention is this
        trail = (await assistant.get(f"/applications/{case_no}/audit-trail")).json()
        extensions = [(e["role"], e["note"]) for e in trail if e["action"] == "deadline_extended"]
        assert extensions == [
            ("supervisor", "30 working days: 需异地核查"),
            ("district_officer", "5 working days: 区局同意再延期"),
        ]

        # The compliance report counts the decided case as extended, and the days it was given.
        decided = await officer.post(
            f"/applications/{case_no}/decision", json={"outcome": "approve", "reasons": "符合"}
        )
        assert decided.status_code == 200, decided.text
        assert await extended_totals(supervisor) == (before[0] + 1, before[1] + 35)


async def test_an_emergencys_follow_up_extensions_stop_at_the_cap_too(stack):
    township, village = "370305003", "370305003001"  # 辛店街道: a small payment from its reserve
    async with (
        stack.client(assistant_of(township)) as assistant,
        stack.client(approver_of(township)) as approver,
        stack.client(SUPERVISOR) as supervisor,
        stack.client(OFFICER) as officer,
    ):
        body = emergency_request(township, village)
        case_no = (await assistant.post("/emergencies", json=body, headers=key())).json()["case_no"]
        approved = await approver.post(
            f"/emergencies/{case_no}/approval", json={"amount": "2000.00"}, headers=key()
        )
        assert approved.status_code == 200, approved.text
        paid = await until(supervisor, case_no, lambda c: c["stage"] == "paid")

        first = await intervene(
            supervisor, case_no, "extend-deadline", working_days=25, reason="户主住院"
        )
        assert first.status_code == 200, first.text
        assert first.json()["extended_working_days"] == 25
        assert first.json()["follow_up_due"] > paid["follow_up_due"]
        over = await intervene(
            supervisor, case_no, "extend-deadline", working_days=10, reason="仍在住院"
        )
        assert over.status_code == 422, over.text
        [problem] = over.json()["detail"]
        assert problem["loc"] == ["body", "working_days"] and "5 remain" in problem["msg"]
        beyond = await intervene(
            officer, case_no, "extend-deadline", working_days=10, reason="区局同意"
        )
        assert beyond.status_code == 200, beyond.text
        assert beyond.json()["extended_working_days"] == 35
        assert beyond.json()["follow_up_due"] > first.json()["follow_up_due"]


async def test_who_may_supervise(stack, faults):
    # A case of its own that supervision lists: the verification platform refuses it.
    faults(service="verification", fail_next=1, status=422)
    async with stack.client(ASSISTANT) as assistant:
        case_no = (await assistant.post("/applications", json=application())).json()["case_no"]
        assert (await assistant.get("/supervision/stuck")).status_code == 403
        refused = await intervene(assistant, case_no, "escalate", reason="x")
        assert refused.status_code == 403
    async with stack.client(AUDITOR) as auditor:
        assert (await auditor.get("/supervision/summary")).status_code == 200
        assert (await intervene(auditor, case_no, "escalate", reason="x")).status_code == 403
    async with stack.client(SUPERVISOR) as supervisor:
        no_reason = await intervene(supervisor, case_no, "escalate", reason=" ")
        assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"] == [
            "body",
            "reason",
        ]
        assert await eventually(lambda: stuck(supervisor, case_no))
        summary = (await supervisor.get("/supervision/summary")).json()
        assert summary["by_reason"].get("refused_by_external_system", 0) >= 1
    # A supervisor works for the district: an account of a township is refused.
    other = Actor(user_id="u-s2", name="s", role=Role.supervisor, jurisdiction="370305002")
    async with stack.client(other) as elsewhere:
        refused = await intervene(elsewhere, case_no, "escalate", reason="x")
        assert refused.status_code == 403 and "works for the district" in refused.text


async def test_a_case_waiting_for_funds_and_deadlines_near_or_past_are_found(own_stack):
    """On a database of its own: it drains a township's reserve and leaves a case waiting for
    a top-up, which no other test may give it."""
    stack = own_stack
    township = "370305105"  # 金岭回族镇
    assistant_there = Actor(
        user_id="u-jinling", name="金岭助理", role=Role.township_assistant, jurisdiction=township
    )
    with session_scope(stack.settings.database_url, writes=True) as session:
        available = reserve.reserve_of(session, township=township).available
        reserve.hold(
            session, township=township, case_no="E-elsewhere", amount=available - 100,
            key=f"drain:{uuid.uuid4()}", at=datetime.now(UTC),
        )  # fmt: skip
    async with (
        stack.client(assistant_there) as assistant,
        stack.client(OFFICER) as officer,
        stack.client(SUPERVISOR) as supervisor,
    ):
        body = emergency(7) | {"township": township, "village": f"{township}201"}
        emergency_no = (await assistant.post("/emergencies", json=body)).json()["case_no"]
        await officer.post(f"/emergencies/{emergency_no}/approval", json={"amount": "1000"})

        async def waiting() -> list[dict]:
            return [
                r
                for r in await stuck(supervisor, emergency_no)
                if r["reason"] == "waiting_for_funds"
            ]

        [row] = await eventually(waiting)
        assert row["kind"] == "emergency" and row["actions"] == ["escalate"]
        assert "top-up" in row["waits_for"]
        payout = [r for r in await stuck(supervisor, emergency_no) if r["reason"] == "due_soon"]
        assert not payout  # 24 hours from now is not soon (6 hours)

    async with stack.client(ASSISTANT) as assistant, stack.client(SUPERVISOR) as supervisor:
        late = (await assistant.post("/applications", json=application())).json()["case_no"]
        soon = (await assistant.post("/applications", json=application())).json()["case_no"]
        for case_no in (late, soon):  # the workflow's own writes done: the records stay as set
            await wait_for(assistant, case_no, lambda c: c["verification"] is not None)
        today = local_date(datetime.now(UTC))
        with session_scope(stack.settings.database_url, writes=True) as session:
            for case_no, due in (
                (late, today - timedelta(days=3)),
                (soon, today + timedelta(days=1)),
            ):
                session.exec(
                    update(CaseRecord).where(CaseRecord.case_no == case_no).values(decision_due=due)
                )
        [overdue] = [r for r in await stuck(supervisor, late) if r["reason"] == "overdue"]
        assert "decision was due" in overdue["detail"] and "extend_deadline" in overdue["actions"]
        assert [r["reason"] for r in await stuck(supervisor, soon)] == ["due_soon"]
        only_overdue = await stuck(supervisor, late, reason="overdue", kind="application")
        assert only_overdue and all(r["reason"] == "overdue" for r in only_overdue)


async def test_an_auditor_reads_and_changes_nothing(stack):
    """Every write endpoint the API has (read from its OpenAPI schema: a new one is covered)."""
    values = {
        "case_no": "370305-2026-000001",
        "code": "370305001",
        "year": "2026",
        "recipient_no": "370305-DB-2026-000001",
        "review_no": "370305-DB-2026-000001-R01",
        "reference": "correction-1",
        "recovery_id": "1",
        "entry_id": "1",
        "referral_no": "370305-ZJ2026-000001",
    }
    values["action"] = "escalate"
    writes = [
        (method.upper(), path.format(**values))
        for path, operations in create_app(stack.settings).openapi()["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    ]
    assert len(writes) > 20
    async with stack.client(AUDITOR) as auditor:
        for method, path in writes:
            answer = await auditor.request(method, path, json={})
            assert answer.status_code == 403, (method, path, answer.text)
        assert (await auditor.get("/audit/verify")).status_code == 200
        period = {"from": "2026-01-01", "to": "2026-12-31"}
        assert (await auditor.get("/audit/compliance", params=period)).status_code == 200


def test_every_reason_a_case_is_stuck_has_its_place_in_the_order():
    """The list is sorted by urgency: a reason left out of the order could not be listed."""
    assert sorted(ORDER) == sorted(Reason) and len(ORDER) == len(Reason)
