"""/audit/verify and /audit/cases/{case_no}/timeline: evidence that cannot be quietly edited."""

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.cases import APPLICATIONS, EMERGENCIES, CaseKind, CaseNo, case_in_jurisdiction
from api.deps import DatabaseDep, SessionDep, TemporalDep
from api.permissions import READ_TIMELINE, VERIFY_AUDIT_TRAIL, PermittedRoute, permit
from domain.cases import Actor
from domain.contracts import Activity, Transition
from domain.errors import NotFound
from domain.evidence import CONTENT, compare, content_of
from store.evidence import verify
from store.records import audit_trail

router = APIRouter(prefix="/audit", tags=["audit"], route_class=PermittedRoute)


class Mismatch(BaseModel):
    case_no: str | None
    seq: int | None
    id: int | None
    problem: str
    """edited | chain broken | newest entry missing | head mismatch | no head | seal mismatch"""
    detail: str
    seal: int | None = None
    """The seal that no longer matches (a seal mismatch)."""


class Seal(BaseModel):
    seq: int
    up_to_id: int
    root: str
    sealed_at: datetime


class Verification(BaseModel):
    ok: bool
    entries: int
    seals: int
    first_mismatch: Mismatch | None
    """The earliest problem: the first of ``mismatches``."""
    mismatches: list[Mismatch]
    """Every problem found, the earliest first (entries by id, then seals), at most 100."""
    mismatch_count: int
    """How many problems were found in all."""
    last_seal: Seal | None
    """Keep its root outside the system: a later answer whose seals do not reach it, or
    reach it with another root, shows seals removed or rewritten."""


class TimelineStep(BaseModel):
    seq: int
    at: datetime
    action: str
    from_stage: str | None
    to_stage: str
    user_id: str
    source: str
    """workflow, or api: written by the API itself (the intake, a halted case), in the
    records only."""
    in_history: bool
    in_records: bool
    differences: list[str]
    """The fields of the records that are not as the history tells them."""


class Timeline(BaseModel):
    case_no: str
    workflow_id: str
    history: str
    """complete; partial (the earliest runs' history is past retention: the steps before
    it are not compared); or not found (nothing to compare: ``matches`` is null)."""
    runs: int
    matches: bool | None
    steps: list[TimelineStep]


@router.get("/verify", response_model=Verification)
def verify_audit_trail(
    session: SessionDep, user: Actor = permit(VERIFY_AUDIT_TRAIL)
) -> Verification:
    """Check every audit entry against its hash, its case's chain and its case's head, and
    every seal against the entries it covers; name every entry (by case and seq) or seal that
    does not match, the earliest first. Its seals span every case: it needs an account of the
    district."""
    verdict = verify(session)
    last = verdict.last_seal
    named = [Mismatch.model_validate(m, from_attributes=True) for m in verdict.mismatches]
    return Verification(
        ok=verdict.ok,
        entries=verdict.entries,
        seals=verdict.seals,
        first_mismatch=named[0] if named else None,
        mismatches=named,
        mismatch_count=verdict.mismatch_count,
        last_seal=Seal.model_validate(last, from_attributes=True) if last else None,
    )


@router.get("/cases/{case_no}/timeline", response_model=Timeline)
async def case_timeline(
    case_no: CaseNo, db: DatabaseDep, client: TemporalDep, user: Actor = permit(READ_TIMELINE)
) -> Timeline:
    """The case's steps rebuilt from its workflow's history (every run, when it continued as
    new) beside its audit trail, by seq, naming every difference. On a case that is moving,
    a step being written may show on one side only: ask again."""
    kind = await db.read(_kind_of, case_no=case_no, user=user)
    workflow_id = kind.workflow_id(case_no)
    history, found, runs = await _history_steps(client, workflow_id)
    rows = await db.read(audit_trail, case_no=case_no)
    records = {row.seq: {name: getattr(row, name) for name in CONTENT} for row in rows}
    steps = compare(history, records, complete=found == "complete")
    return Timeline(
        case_no=case_no,
        workflow_id=workflow_id,
        history=found,
        runs=runs,
        matches=None if found == "not found" else all(s.matches for s in steps),
        steps=[TimelineStep.model_validate(s, from_attributes=True) for s in steps],
    )


def _kind_of(session: Session, *, case_no: str, user: Actor) -> CaseKind:
    for kind in (APPLICATIONS, EMERGENCIES):
        try:
            case_in_jurisdiction(session, kind=kind, case_no=case_no, user=user)
            return kind
        except NotFound:
            continue
    raise NotFound(f"no case {case_no} in your jurisdiction")


async def _history_steps(
    client: Client, workflow_id: str
) -> tuple[dict[int, dict[str, Any]], str, int]:
    """The audit entries the workflow handed to ``record_transition``, by seq, from its
    latest run back to its first; whether the history was complete, partial or not found;
    and how many runs were read."""
    steps: dict[int, dict[str, Any]] = {}
    run_id, runs = None, 0
    while True:
        try:
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise HTTPException(
                    status.HTTP_503_SERVICE_UNAVAILABLE, "the case engine is unavailable; try again"
                ) from None
            return steps, "partial" if runs else "not found", runs
        runs += 1
        for event in history.events:
            if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                continue
            scheduled = event.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name != Activity.record_transition:
                continue
            payload = scheduled.input.payloads[0]
            [transition] = await client.data_converter.decode([payload], [Transition])
            for entry in transition.entries:
                steps.setdefault(entry.seq, content_of(entry))
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id
        if not run_id:
            return steps, "complete", runs
