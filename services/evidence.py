"""Evidence that cannot be quietly edited: the audit trail verified against its hashes, heads
and seals (``store.evidence``), and a case's steps rebuilt from its workflow's history beside
its audit trail (``domain.evidence``)."""

from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.contracts import Activity, Transition
from domain.errors import Unavailable
from domain.evidence import CONTENT, Step, compare, content_of
from services.cases import KINDS
from store.db import Database
from store.evidence import Verdict, verify
from store.jurisdiction import CaseRef
from store.records import audit_trail


@dataclass(frozen=True)
class Timeline:
    case_no: str
    workflow_id: str
    history: str
    """complete; partial (the earliest runs' history is past retention: the steps before it
    are not compared); or not found (nothing to compare: ``matches`` is None)."""
    runs: int
    matches: bool | None
    steps: list[Step]


async def verification(*, db: Database) -> Verdict:
    """Every audit entry against its hash, its case's chain and its case's head, and every
    seal against the entries it covers."""
    return await db.read(verify)


async def timeline(*, db: Database, client: Client, case: CaseRef) -> Timeline:
    """The case's steps rebuilt from its workflow's history (every run, when it continued as
    new) beside its audit trail, by seq, naming every difference."""
    workflow_id = KINDS[case.kind].workflow_id(case.case_no)
    history, found, runs = await _history_steps(client, workflow_id)
    rows = await db.read(audit_trail, case_no=case.case_no)
    records = {row.seq: {name: getattr(row, name) for name in CONTENT} for row in rows}
    steps = compare(history, records, complete=found == "complete")
    return Timeline(
        case_no=case.case_no,
        workflow_id=workflow_id,
        history=found,
        runs=runs,
        matches=None if found == "not found" else all(s.matches for s in steps),
        steps=steps,
    )


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
                raise Unavailable("the case engine is unavailable; try again") from None
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
