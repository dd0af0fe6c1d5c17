"""督办: every case that is not moving and why (applications and emergencies together), and a
supervisor's ways to move it. Each action goes on the case's audit trail, with its reason,
through the case's own workflow; a halted case's restart and close are ``services.halted``'s."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import ResetActivityRequest
from temporalio.client import Client
from temporalio.service import RPCError

from domain.calendar import WorkingDayIndex, local_date
from domain.cases import Actor, Intervention, InterventionRecord
from domain.errors import WrongStage
from domain.halting import refuse_on_halted
from domain.policy import Policy
from domain.privacy import redact
from domain.sealing import KeyRing, Unsealable
from domain.supervision import Reason, Stuck, Thresholds, stuck_reasons
from services import halted
from services.cases import KINDS, CaseKind, View, act, record_of
from settings import Settings
from store.calendar import load_calendar
from store.db import Database
from store.jurisdiction import CaseRef
from store.pages import Paged, paged_list
from store.records import start_of, view_of
from store.supervision import (
    clear_retry,
    open_cases,
    payroll_problems,
    referral_problems,
    review_problems,
)
from store.sweeps import sweep_problems
from store.watch import check_up_problems

ORDER = [
    Reason.engine_problem,
    Reason.not_reconciled,
    Reason.overdue,
    Reason.refused_by_external_system,
    Reason.not_registered,
    Reason.review_overdue,
    Reason.referral_overdue,
    Reason.sweep_overdue,
    Reason.check_up_overdue,
    Reason.retrying,
    Reason.waiting_for_funds,
    Reason.waiting_on_person,
    Reason.due_soon,
]
"""The most urgent first."""


@dataclass(frozen=True)
class Retry:
    """An external call waiting for its next attempt, as the case engine describes it."""

    activity: str
    attempt: int
    next_attempt_at: datetime | None
    last_failure: str


@dataclass(frozen=True)
class StuckCase:
    """One row of the list, with the retries of a retrying call."""

    stuck: Stuck
    retries: list[Retry]


@dataclass(frozen=True)
class Summary:
    total: int
    """Cases not moving (one case may have several reasons)."""
    by_reason: dict[str, int]
    by_township: dict[str, dict[str, int]]


async def stuck(
    *,
    db: Database,
    client: Client,
    user: Actor,
    township: str | None,
    kind: str | None,
    reason: Reason | None,
    thresholds: Thresholds,
    page: int,
    page_size: int,
    policy: Policy | None = None,
) -> Paged[StuckCase]:
    """Every open case of the user's jurisdiction that is not moving, the most urgent first.
    A retrying call's attempt, next time and last failure come from the case engine's
    description of the workflow."""
    rows = await db.read(
        stuck_rows, user=user, township=township, kind=kind, thresholds=thresholds, policy=policy
    )
    if reason is not None:
        rows = [r for r in rows if r.reason == reason]
    shown = paged_list(rows, page=page, page_size=page_size)
    items = [
        StuckCase(
            row,
            await _retries(client, KINDS[row.kind], row.case_no)
            if row.reason == Reason.retrying
            else [],
        )
        for row in shown.items
    ]
    return Paged(items=items, total=shown.total, page=shown.page, page_size=shown.page_size)


async def summary(
    *, db: Database, user: Actor, thresholds: Thresholds, policy: Policy | None = None
) -> Summary:
    """How many cases are not moving, by reason and by township."""
    rows = await db.read(
        stuck_rows, user=user, township=None, kind=None, thresholds=thresholds, policy=policy
    )
    by_township: dict[str, Counter] = {}
    for row in rows:
        by_township.setdefault(row.township, Counter())[row.reason] += 1
    return Summary(
        total=len({r.case_no for r in rows}),
        by_reason=dict(Counter(r.reason.value for r in rows)),
        by_township={t: dict(c) for t, c in sorted(by_township.items())},
    )


def stuck_rows(
    session: Session, *, user: Actor, township: str | None, kind: str | None,
    thresholds: Thresholds, policy: Policy | None = None,
) -> list[Stuck]:  # fmt: skip
    """Every reason each open case of the user's jurisdiction is not moving, the most urgent
    first (a ``township`` named is the permission's to check against the jurisdiction)."""
    cases = open_cases(session, jurisdiction=user.jurisdiction, township=township, kind=kind)
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
    rows += payroll_problems(session, jurisdiction=user.jurisdiction, township=township, kind=kind)
    rows += review_problems(
        session, jurisdiction=user.jurisdiction, township=township, kind=kind,
        today=local_date(now),
    )  # fmt: skip
    rows += referral_problems(
        session, jurisdiction=user.jurisdiction, township=township, kind=kind,
        today=local_date(now),
    )  # fmt: skip
    # A township's sweep and a watched household's check-up: read by date, no workflow.
    rows += sweep_problems(
        session, jurisdiction=user.jurisdiction, township=township, kind=kind,
        today=local_date(now), policy=policy or Policy(),
    )  # fmt: skip
    rows += check_up_problems(
        session, jurisdiction=user.jurisdiction, township=township, kind=kind,
        today=local_date(now),
    )  # fmt: skip
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (ORDER.index(r.reason), r.due or far, r.since))


async def intervene(
    *,
    db: Database,
    client: Client,
    settings: Settings,
    case: CaseRef,
    record: InterventionRecord,
    key: str | None,
) -> View:
    """督办 through the case's own workflow; for a halted case, once its payments are
    reconciled, a restart from its last state or a close (``services.halted``). The case as
    it now stands."""
    kind = KINDS[case.kind]
    user, action = record.actor, record.action
    row = await db.read(record_of, kind=kind, case_no=case.case_no)
    if action == Intervention.restart:
        return await halted.restart(
            db=db, client=client, row=row, actor=user, reason=record.reason,
            task_queue=settings.task_queue,
            timeout=timedelta(seconds=settings.action_timeout_seconds),
        )  # fmt: skip
    if action == Intervention.close:
        return await halted.close(db=db, row=row, actor=user, reason=record.reason)
    name = action.value.replace("_", "-")
    refuse_on_halted(view_of(row), action=name)
    if action == Intervention.retry_now:
        for activity in await _run_now(client, kind, case.case_no):
            # Its attempts start again at 1: the worker would not know to clear the mark.
            await db.write(clear_retry, case_no=case.case_no, activity=activity)
    if action == Intervention.restart_orphan:
        await _restart(client, kind, row, task_queue=settings.task_queue, ring=settings.key_ring())
    return await act(
        db=db,
        client=client,
        kind=kind,
        case=case,
        action=name,
        update=kind.workflow.intervene,
        record=record,
        update_id=f"supervision-{name}:{user.user_id}:{key}" if key else None,
        timeout=timedelta(seconds=settings.action_timeout_seconds),
    )


async def _retries(client: Client, kind: CaseKind, case_no: str) -> list[Retry]:
    try:
        described = await client.get_workflow_handle(kind.workflow_id(case_no)).describe()
    except RPCError:
        return []
    return [
        Retry(
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


async def _restart(client: Client, kind: CaseKind, row, *, task_queue: str, ring: KeyRing) -> None:
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
    await client.start_workflow(kind.workflow.run, start, id=workflow_id, task_queue=task_queue)
