"""Cases started straight on a Temporal server (the time-skipping one), and ways to move and
read them there."""

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from domain.calendar import local_date
from domain.cases import Stage, SurveyRecord
from domain.contracts import PayrollMonth
from domain.emergency import EmergencyView
from domain.payroll import payroll_workflow_id
from store import reserve
from store.db import session_scope
from store.tables import AuditEntryRecord
from tests.helpers.actors import COORDINATOR, OFFICER
from tests.helpers.cases import case_start, emergency_start
from workflows.application import ApplicationWorkflow
from workflows.emergency import EmergencyWorkflow
from workflows.payroll import PayrollWorkflow
from workflows.search import application_at_start, emergency_at_start

TOWNSHIP = "370305001"
"""Where ``emergency_start`` puts a family by default."""


async def start_case(env, settings, *, indexed: bool = False, **overrides) -> WorkflowHandle:
    """An application accepted now (``case_start``), its workflow started (``indexed``: with
    its search attributes given to the start, as the API starts it)."""
    start = case_start(
        case_no=f"T-{uuid.uuid4().hex[:8]}",
        database_url=settings.database_url,
        accepted_at=await env.get_current_time(),
        **overrides,
    )
    return await env.client.start_workflow(
        ApplicationWorkflow.run,
        start,
        id=f"application-{start.case_no}",
        task_queue=settings.task_queue,
        search_attributes=application_at_start(start) if indexed else None,
    )


async def request(env, settings, *, indexed: bool = False, **overrides) -> WorkflowHandle:
    """An emergency requested now (``emergency_start``), its workflow started (``indexed``: as
    ``start_case``)."""
    start = emergency_start(
        case_no=f"E-{uuid.uuid4().hex[:8]}", requested_at=await env.get_current_time(), **overrides
    )
    return await env.client.start_workflow(
        EmergencyWorkflow.run,
        start,
        id=f"emergency-{start.case_no}",
        task_queue=settings.task_queue,
        search_attributes=emergency_at_start(start) if indexed else None,
    )


TEKUN_FACTS = dict(unable_to_work=True, has_income=False, supporter_able=False)
"""What a survey finds of a 特困 applicant who is eligible at any age."""


async def survey(handle, env, income="300", **facts):
    """The household survey, today; ``facts``: what it found for 特困 (``TEKUN_FACTS``)."""
    today = local_date(await env.get_current_time())
    return await handle.execute_update(
        ApplicationWorkflow.record_survey,
        SurveyRecord(
            actor=COORDINATOR,
            investigators=["李协理", "周干事"],
            visited_on=today,
            findings="two rooms, no vehicle",
            assessed_monthly_income=Decimal(income),
            **facts,
        ),
    )


async def wait_for_stage(handle, stage: Stage, env) -> None:
    for _ in range(100):
        if (await handle.query(ApplicationWorkflow.current)).stage == stage:
            return
        await env.sleep(timedelta(seconds=1))
    raise AssertionError(f"never reached {stage}")


async def until(
    handle, env, predicate, *, query=EmergencyWorkflow.current, step=timedelta(seconds=1), tries=100
) -> EmergencyView:
    for _ in range(tries):
        view = await handle.query(query)
        if predicate(view):
            return view
        await env.sleep(step)
    raise AssertionError(f"never happened: {view}")


def audit(database_url, case_no) -> list[AuditEntryRecord]:
    with session_scope(database_url) as session:
        return list(
            session.exec(
                select(AuditEntryRecord)
                .where(AuditEntryRecord.case_no == case_no)
                .order_by(AuditEntryRecord.seq)
            )
        )


def reserve_now(database_url: str, township: str = TOWNSHIP) -> reserve.ReserveState:
    with session_scope(database_url) as session:
        return reserve.reserve_of(session, township=township)


async def activity_runs(handle, activity: str) -> list:
    """How each run of ``activity`` ended, from the workflow's history: one
    ``ActivityTaskStartedEventAttributes`` per scheduled call, with the attempt that ended it
    (``attempt``), the failure of the attempt before (``last_failure``) and the worker that ran
    it (``identity``)."""
    history = await handle.fetch_history()
    scheduled = {
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == activity
    }
    return [
        e.activity_task_started_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id in scheduled
    ]


async def pay_month(client, month, *, task_queue: str, **options) -> str:
    """A month's payroll run to its end on ``client``, as a district officer starts it, under
    an id of its own (not the month's own ``payroll-<month>``: that is the API's); its id."""
    workflow_id = f"{payroll_workflow_id(month)}-{uuid.uuid4().hex[:6]}"
    await client.execute_workflow(
        PayrollWorkflow.run,
        PayrollMonth(str(month), OFFICER.user_id, **options),
        id=workflow_id,
        task_queue=task_queue,
    )
    return workflow_id
