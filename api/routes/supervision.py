"""/supervision: every case that is not moving and why (applications and emergencies together),
and a supervisor's ways to move it (督办). Each action goes on the case's audit trail, with
its reason, through the case's own workflow."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import Session
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import ResetActivityRequest
from temporalio.client import Client
from temporalio.service import RPCError

from api.cases import (
    APPLICATIONS,
    EMERGENCIES,
    CaseKind,
    CaseNo,
    act,
    case_in_jurisdiction,
)
from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import Body, CasePublic, EmergencyPublic, Label, Text
from api.permissions import EXTEND_DEADLINE, INTERVENE, SUPERVISE, PermittedRoute, permit
from domain.calendar import WorkingDayIndex, local_date
from domain.cases import Actor, Intervention, InterventionRecord
from domain.errors import NotFound, WrongStage
from domain.halting import refuse_on_halted
from domain.privacy import redact
from domain.sealing import KeyRing, Unsealable
from domain.supervision import Reason, Stuck, Thresholds, stuck_reasons
from domain.townships import covers, jurisdiction_level
from services import halted
from settings import Settings
from store.calendar import load_calendar
from store.db import Database
from store.records import start_of, view_of
from store.supervision import clear_retry, open_cases
from workflows.application import ApplicationWorkflow
from workflows.emergency import EmergencyWorkflow

router = APIRouter(prefix="/supervision", tags=["supervision"], route_class=PermittedRoute)

ORDER = [
    Reason.engine_problem,
    Reason.overdue,
    Reason.refused_by_external_system,
    Reason.retrying,
    Reason.waiting_for_funds,
    Reason.waiting_on_person,
    Reason.due_soon,
]
"""The most urgent first."""


class RetryPublic(BaseModel):
    """An external call waiting for its next attempt, as the case engine describes it."""

    activity: str
    attempt: int
    next_attempt_at: datetime | None
    last_failure: str


class StuckPublic(BaseModel):
    model_config = {"from_attributes": True}

    case_no: str
    kind: Literal["application", "emergency"]
    type: str
    township: str
    stage: str
    since: datetime
    assignee: str
    waits_for: str
    due: datetime | None
    reason: Reason
    detail: str
    actions: list[str]
    retries: list[RetryPublic] = []


class StuckPage(BaseModel):
    items: list[StuckPublic]
    total: int
    page: int
    page_size: int


class StuckSummary(BaseModel):
    total: int
    by_reason: dict[str, int]
    by_township: dict[str, dict[str, int]]


class InterventionCreate(Body):
    reason: Text
    assignee: Label | None = None
    to_stage: Literal["survey", "review", "paid"] | None = None


class ExtensionCreate(Body):
    reason: Text
    working_days: Annotated[int, Field(ge=1, le=30)]


ACTIONS = {
    "reassign": Intervention.reassign,
    "escalate": Intervention.escalate,
    "retry-now": Intervention.retry_now,
    "reverify": Intervention.reverify,
    "reopen": Intervention.reopen,
    "extend-deadline": Intervention.extend_deadline,
    "cancel": Intervention.cancel,
    "restart-orphan": Intervention.restart_orphan,
    "restart": Intervention.restart,
    "close": Intervention.close,
}
Action = Literal[
    "reassign", "escalate", "retry-now", "reverify", "reopen", "cancel", "restart-orphan",
    "restart", "close",
]  # fmt: skip
"""A supervisor's actions; extend-deadline has a route of its own (a district officer's too)."""


@router.get("/stuck", response_model=StuckPage)
async def list_stuck(
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(SUPERVISE),
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    kind: Literal["application", "emergency"] | None = None,
    reason: Reason | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> StuckPage:
    """Every open case that is not moving, the most urgent first: why, since when, whom it
    waits for, and the actions that apply. A retrying call's attempt, next time and last
    failure come from the case engine's description of the workflow."""
    rows = await db.read(
        stuck_rows, user=user, township=township, kind=kind, thresholds=settings.supervision
    )
    if reason is not None:
        rows = [r for r in rows if r.reason == reason]
    shown = rows[(page - 1) * page_size : page * page_size]
    items = [StuckPublic.model_validate(r) for r in shown]
    for item in items:
        if item.reason == Reason.retrying:
            item.retries = await _retries(client, _kind(item.kind), item.case_no)
    return StuckPage(items=items, total=len(rows), page=page, page_size=page_size)


@router.get("/summary", response_model=StuckSummary)
async def summary(
    db: DatabaseDep, settings: SettingsDep, user: Actor = permit(SUPERVISE)
) -> StuckSummary:
    """How many cases are not moving, by reason and by township."""
    rows = await db.read(
        stuck_rows, user=user, township=None, kind=None, thresholds=settings.supervision
    )
    by_township: dict[str, Counter] = {}
    for row in rows:
        by_township.setdefault(row.township, Counter())[row.reason] += 1
    return StuckSummary(
        total=len({r.case_no for r in rows}),
        by_reason=dict(Counter(r.reason.value for r in rows)),
        by_township={t: dict(c) for t, c in sorted(by_township.items())},
    )


def stuck_rows(
    session: Session, *, user: Actor, township: str | None, kind: str | None, thresholds: Thresholds
) -> list[Stuck]:
    level = jurisdiction_level(user.jurisdiction)
    # As the route's permission checks it: the filter must meet the jurisdiction (a village's
    # user may name its own township), or it would widen what the user sees.
    if township is not None and not (
        covers(user.jurisdiction, township) or covers(township, user.jurisdiction)
    ):
        raise NotFound(f"no township {township} in your jurisdiction")
    village = user.jurisdiction if level == "village" else None
    township = township or (user.jurisdiction if level == "township" else None)
    cases = open_cases(session, township=township, village=village, kind=kind)
    now = datetime.now(UTC)
    dates = [local_date(c.since) for c in cases] + [local_date(now)]
    ends = [local_date(d) for c in cases for d in c.deadlines.values()] + [local_date(now)]
    index = WorkingDayIndex.over(
        load_calendar(session), min(dates) - timedelta(days=1), max(ends) + timedelta(days=1)
    )
    rows = [
        row
        for case in cases
        for row in stuck_reasons(case, now=now, index=index, thresholds=thresholds)
    ]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (ORDER.index(r.reason), r.due or far, r.since))


async def _retries(client: Client, kind: CaseKind, case_no: str) -> list[RetryPublic]:
    try:
        described = await client.get_workflow_handle(kind.workflow_id(case_no)).describe()
    except RPCError:
        return []
    return [
        RetryPublic(
            activity=a.activity_type.name,
            attempt=a.attempt,
            next_attempt_at=a.next_attempt_schedule_time.ToDatetime(tzinfo=UTC)
            if a.HasField("next_attempt_schedule_time")
            else None,
            last_failure=await _message(client, a.last_failure)
            if a.HasField("last_failure")
            else "",
        )
        for a in described.raw_description.pending_activities
        if a.attempt > 1 or a.HasField("last_failure")
    ]


async def _message(client: Client, failure: Failure) -> str:
    """A failure's message, which the worker encrypted with its stack trace; an external
    system's answer in it may quote an account or ID number."""
    copy = Failure()
    copy.CopyFrom(failure)  # decoding rewrites it in place
    try:
        error = await client.data_converter.decode_failure(copy)
    except Unsealable as unreadable:
        return str(unreadable)
    return redact(getattr(error, "message", str(error)))  # overseers see numbers masked


@router.post("/cases/{case_no}/extend-deadline", response_model=CasePublic | EmergencyPublic)
async def extend_deadline(
    case_no: CaseNo,
    body: ExtensionCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(EXTEND_DEADLINE),
    key: IdempotencyKey = None,
) -> CasePublic | EmergencyPublic:
    """Give a case more working days: an application's decision, an emergency's follow-up
    (补办). The original due date is kept and the audit counts the case as extended, never on
    time. A supervisor adds at most ``max_extension_working_days`` in all to a case; beyond
    them a district officer decides. The reason is required and goes on the audit trail."""
    record = InterventionRecord(
        actor=user,
        action=Intervention.extend_deadline,
        reason=body.reason,
        working_days=body.working_days,
    )
    return await _intervene(
        case_no, "extend-deadline", record, db=db, client=client, settings=settings, key=key
    )


@router.post("/cases/{case_no}/{action}", response_model=CasePublic | EmergencyPublic)
async def intervene(
    case_no: CaseNo,
    action: Action,
    body: InterventionCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(INTERVENE),
    key: IdempotencyKey = None,
) -> CasePublic | EmergencyPublic:
    """督办: reassign, escalate to the district, make a retrying call run now, ask the
    verification platform again, reopen an earlier stage (容错纠错), cancel a case opened in
    error, or start the workflow of a record that has none. A case the case engine halted, once
    its payments are reconciled with the bank: restart it from its last state, or close it. The
    reason is required and goes on the audit trail."""
    if action in ("restart", "close"):
        kind, row = await db.read(_find, case_no=case_no, user=user)
        public = CasePublic if kind is APPLICATIONS else EmergencyPublic
        if action == "restart":
            view = await halted.restart(
                db=db, client=client, row=row, actor=user, reason=body.reason,
                task_queue=settings.task_queue,
                timeout=timedelta(seconds=settings.action_timeout_seconds),
            )  # fmt: skip
        else:
            view = await halted.close(db=db, row=row, actor=user, reason=body.reason)
        return public.model_validate(view, from_attributes=True)
    record = InterventionRecord(
        actor=user,
        action=ACTIONS[action],
        reason=body.reason,
        assignee=body.assignee,
        to_stage=body.to_stage,
    )
    return await _intervene(
        case_no, action, record, db=db, client=client, settings=settings, key=key
    )


async def _intervene(
    case_no: str,
    action: str,
    record: InterventionRecord,
    *,
    db: Database,
    client: Client,
    settings: Settings,
    key: str | None,
) -> CasePublic | EmergencyPublic:
    """The intervention through the case's own workflow; the case as it now stands."""
    user = record.actor
    kind, row = await db.read(_find, case_no=case_no, user=user)
    refuse_on_halted(view_of(row), action=action)
    if record.action == Intervention.retry_now:
        for activity in await _run_now(client, kind, case_no):
            # Its attempts start again at 1: the worker would not know to clear the mark.
            await db.write(clear_retry, case_no=case_no, activity=activity)
    if record.action == Intervention.restart_orphan:
        await _restart(client, kind, row, task_queue=settings.task_queue, ring=settings.key_ring())
    update = (ApplicationWorkflow if kind is APPLICATIONS else EmergencyWorkflow).intervene
    view = await act(
        client=client,
        db=db,
        kind=kind,
        row=row,
        update=update,
        record=record,
        update_id=f"supervision-{action}:{user.user_id}:{key}" if key else None,
        timeout=timedelta(seconds=settings.action_timeout_seconds),
    )
    public = CasePublic if kind is APPLICATIONS else EmergencyPublic
    return public.model_validate(view, from_attributes=True)


def _find(session: Session, *, case_no: str, user: Actor) -> tuple[CaseKind, object]:
    for kind in (APPLICATIONS, EMERGENCIES):
        try:
            return kind, case_in_jurisdiction(session, kind=kind, case_no=case_no, user=user)
        except NotFound:
            continue
    raise NotFound(f"no case {case_no} in your jurisdiction")


def _kind(name: str) -> CaseKind:
    return APPLICATIONS if name == "application" else EMERGENCIES


async def _run_now(client: Client, kind: CaseKind, case_no: str) -> list[str]:
    """The calls waiting for their next attempt are made now (their attempts start again);
    their activity types."""
    workflow_id = kind.workflow_id(case_no)
    waiting = await _retries(client, kind, case_no)
    if not waiting:
        raise WrongStage(f"no call of case {case_no} is waiting for a retry")
    reset = []
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
        for pending in described.raw_description.pending_activities:
            if pending.attempt > 1 or pending.HasField("last_failure"):
                await client.workflow_service.reset_activity(
                    ResetActivityRequest(
                        namespace=client.namespace,
                        execution=WorkflowExecution(workflow_id=workflow_id),
                        id=pending.activity_id,
                    )
                )
                reset.append(pending.activity_type.name)
    except RPCError as refused:  # the workflow ended meanwhile: the watch will say how
        raise WrongStage(
            f"case {case_no}'s workflow is not running ({refused.message}); nothing to retry"
        ) from None
    return reset


async def _restart(
    client: Client, kind: CaseKind, row: object, *, task_queue: str, ring: KeyRing
) -> None:
    """Start the workflow of a record that has none, from what was accepted."""
    workflow_id = kind.workflow_id(row.case_no)
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        pass
    else:
        raise WrongStage(f"case {row.case_no} has its workflow; nothing to restart")
    start = start_of(row, ring=ring)
    if start is None:
        raise WrongStage(f"case {row.case_no} was accepted before intakes were kept; cancel it")
    run = ApplicationWorkflow.run if kind is APPLICATIONS else EmergencyWorkflow.run
    await client.start_workflow(run, start, id=workflow_id, task_queue=task_queue)
