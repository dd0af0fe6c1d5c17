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
from domain.supervision import Reason, Stuck, Thresholds, cutoffs, stuck_reasons
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
    not_registered_rows,
    open_cases,
    payroll_problems,
    referral_problems,
    review_problems,
    stuck_case_numbers,
    stuck_counts,
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
    """Every open case of the user's jurisdiction that is not moving, the most urgent first:
    one page of it, and how many rows in all. A retrying call's attempt, next time and last
    failure come from the case engine's description of the workflow."""
    shown = await db.read(
        stuck_page, user=user, township=township, kind=kind, reason=reason,
        thresholds=thresholds, policy=policy, page=page, page_size=page_size,
    )  # fmt: skip
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
    return await db.read(summary_of, user=user, thresholds=thresholds, policy=policy)


def summary_of(
    session: Session, *, user: Actor, thresholds: Thresholds, policy: Policy | None = None
) -> Summary:
    """``stuck_rows`` counted, by the database for the open cases and the approved cases
    missing from the register (the many), from the rows for the rest (the few)."""
    now = datetime.now(UTC)
    cut = cutoffs(now=now, calendar=load_calendar(session), thresholds=thresholds)
    where = {"jurisdiction": user.jurisdiction, "township": None}
    counted, cases, overlap = stuck_counts(session, kind=None, cut=cut, **where)
    _, unregistered = not_registered_rows(session, first=None, **where)
    for town, n in unregistered.items():
        counted.setdefault(town, Counter())[Reason.not_registered] += n
    others = _others(session, user=user, township=None, kind=None, policy=policy, now=now)
    for row in others:
        counted.setdefault(row.township, Counter())[row.reason] += 1
    by_reason = {r.value: n for r in ORDER if (n := sum(c[r] for c in counted.values()))}
    return Summary(
        # A halted case paid and not registered is one case with two reasons.
        total=cases + sum(unregistered.values()) - overlap + len({r.case_no for r in others}),
        by_reason=by_reason,
        by_township={
            town: {r.value: c[r] for r in ORDER if c[r]}
            for town, c in sorted(counted.items())
            if any(c.values())
        },
    )


def stuck_page(
    session: Session, *, user: Actor, township: str | None, kind: str | None,
    reason: Reason | None, thresholds: Thresholds, policy: Policy | None, page: int,
    page_size: int,
) -> Paged[Stuck]:  # fmt: skip
    """Page ``page`` of ``stuck_rows`` (of one reason, if named) without making every row:
    the database counts each reason's rows, and of the reasons the page shows gives the cases
    that come first; only their rows are made, by the same rules."""
    paged_list([], page=page, page_size=page_size)  # refuses a page out of bounds
    now = datetime.now(UTC)
    cut = cutoffs(now=now, calendar=load_calendar(session), thresholds=thresholds)
    where = {"jurisdiction": user.jurisdiction, "township": township}
    counts: Counter = Counter()
    counted, _, _ = stuck_counts(session, kind=kind, cut=cut, **where)
    for by_reason in counted.values():
        counts.update(by_reason)
    others = _others(session, user=user, township=township, kind=kind, policy=policy, now=now)
    counts.update(r.reason for r in others)
    registering = kind in (None, "application")
    if registering:
        counts[Reason.not_registered] += sum(
            not_registered_rows(session, first=None, **where)[1].values()
        )
    if reason is not None:
        counts = Counter({reason: counts[reason]})
    low, high = (page - 1) * page_size, page * page_size
    shown, offset = [], 0
    for each in ORDER:
        n = counts[each]
        if n and offset < high and offset + n > low:
            first = min(high - offset, n)
            rows = [r for r in others if r.reason == each]
            if each == Reason.not_registered and registering:
                rows += not_registered_rows(session, first=first, **where)[0]
            numbers = stuck_case_numbers(
                session, kind=kind, cut=cut, reason=each, first=first, **where
            )
            cases = [
                case
                for chunk in _chunks(sorted(numbers))
                for case in open_cases(session, kind=kind, case_nos=chunk, **where)
            ]
            index = _index(session, cases, now)
            rows += [
                row
                for case in cases
                for row in stuck_reasons(case, now=now, index=index, thresholds=thresholds)
                if row.reason == each
            ]
            shown += sorted(rows, key=_urgency)[max(low - offset, 0) : first]
        offset += n
    return Paged(items=shown, total=sum(counts.values()), page=page, page_size=page_size)


def stuck_rows(
    session: Session, *, user: Actor, township: str | None, kind: str | None,
    thresholds: Thresholds, policy: Policy | None = None,
) -> list[Stuck]:  # fmt: skip
    """Every reason each open case of the user's jurisdiction is not moving, the most urgent
    first (a ``township`` named is the permission's to check against the jurisdiction): the
    whole list, row by row, that ``stuck_page`` and ``summary_of`` count and page."""
    cases = open_cases(session, jurisdiction=user.jurisdiction, township=township, kind=kind)
    now = datetime.now(UTC)
    index = _index(session, cases, now)
    rows = [
        row
        for case in cases
        for row in stuck_reasons(case, now=now, index=index, thresholds=thresholds)
    ]
    rows += payroll_problems(session, jurisdiction=user.jurisdiction, township=township, kind=kind)
    rows += _others(
        session, user=user, township=township, kind=kind, policy=policy, now=now, payroll=False
    )
    return sorted(rows, key=_urgency)


def _others(
    session: Session, *, user: Actor, township: str | None, kind: str | None,
    policy: Policy | None, now: datetime, payroll: bool = True,
) -> list[Stuck]:  # fmt: skip
    """The rows of no open case and no approved case missing from the register: a few."""
    where = {"jurisdiction": user.jurisdiction, "township": township, "kind": kind}
    today = local_date(now)
    rows = payroll_problems(session, unregistered=False, **where) if payroll else []
    rows += review_problems(session, today=today, **where)
    rows += referral_problems(session, today=today, **where)
    # A township's sweep and a watched household's check-up: read by date, no workflow.
    rows += sweep_problems(session, today=today, policy=policy or Policy(), **where)
    rows += check_up_problems(session, today=today, **where)
    return rows


def _index(session: Session, cases: list, now: datetime) -> WorkingDayIndex:
    """The working days from the earliest a case waits since to its latest deadline."""
    dates = [local_date(c.since) for c in cases] + [local_date(now)]
    ends = [local_date(d) for c in cases for d in c.deadlines.values()] + [local_date(now)]
    return WorkingDayIndex.over(
        load_calendar(session), min(dates) - timedelta(days=1), max(ends) + timedelta(days=1)
    )


FAR = datetime.max.replace(tzinfo=UTC)


def _urgency(row: Stuck) -> tuple:
    """The list's order: by reason, then the nearest deadline, the longest waiting (the
    number last, so that a row shows on one page only)."""
    return (ORDER.index(row.reason), row.due or FAR, row.since, row.case_no)


def _chunks(numbers: list[str], size: int = 5_000):
    for start in range(0, len(numbers), size):
        yield numbers[start : start + size]


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
