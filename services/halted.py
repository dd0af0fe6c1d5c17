"""A supervisor's two ways with a halted case (``domain.halting``), once its payments are
reconciled with the bank: restart it — a new run of its workflow from the last state the case
engine holds of it — or close it with reasons.

Both are decided in one transaction on the case's record (the one that finds it halted), so a
restart and a close sent at once cannot both happen; the restart's new run is started after
that, and the record is halted again if the engine cannot start it.
"""

from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.cases import Actor, CaseView
from domain.emergency import Emergency, EmergencyView
from domain.errors import Conflict, Unavailable, WrongStage
from domain.halting import check_restart
from store.db import Database
from store.records import close_halted, halt_case, last_seq, resume_halted, view_of
from store.reserve import released
from store.tables import CaseRecord, EmergencyRecord
from workflows.application import ApplicationWorkflow
from workflows.client import application_workflow_id, emergency_workflow_id
from workflows.emergency import EmergencyWorkflow

log = structlog.get_logger()


async def restart(
    *,
    db: Database,
    client: Client,
    row: CaseRecord | EmergencyRecord,
    actor: Actor,
    reason: str,
    task_queue: str,
    timeout: timedelta,
) -> CaseView | EmergencyView:
    """A new run of the case's workflow from its last state; the case as it now stands.
    ``timeout``: how long a worker has to read that state from the case's history."""
    check_restart(view_of(row))
    emergency = isinstance(row, EmergencyRecord)
    workflow = EmergencyWorkflow if emergency else ApplicationWorkflow
    workflow_id = (emergency_workflow_id if emergency else application_workflow_id)(row.case_no)
    try:
        state = await client.get_workflow_handle(workflow_id).query(
            workflow.state, rpc_timeout=timeout
        )
    except RPCError as unanswered:
        if unanswered.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE):
            raise _unreadable(row.case_no, unanswered) from None
        raise Unavailable(
            f"no worker answered for case {row.case_no}; nothing was done, try again shortly"
        ) from None
    except WorkflowQueryFailedError as failed:  # its history no longer replays
        raise _unreadable(row.case_no, failed) from None
    after_seq = await db.read(last_seq, case_no=row.case_no)
    now = datetime.now(UTC)
    if isinstance(state, Emergency):
        hold_released = await db.read(released, hold=state.hold_key)
        state.resume(
            actor=actor, reason=reason, now=now, after_seq=after_seq, hold_released=hold_released
        )
    else:
        state.resume(actor=actor, reason=reason, now=now, after_seq=after_seq)
    await db.write(
        resume_halted, view=state.view, entries=state.take_unwritten(), halted_version=row.version
    )
    try:
        await client.start_workflow(
            workflow.run,
            state,
            id=workflow_id,
            task_queue=task_queue,
            # Only after a run that ended abnormally: never beside a running one, never after
            # a case that ended as it should.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        raise Conflict(f"case {row.case_no}'s workflow is running already") from None
    except RPCError as unreachable:
        await db.write(
            halt_case, case_no=row.case_no, status="not restarted: the engine refused", at=now
        )
        log.warning("case.restart_failed", case_no=row.case_no, error=unreachable.message)
        raise Unavailable(
            f"the case engine did not start case {row.case_no}; it is still halted, try again"
        ) from None
    log.info("case.restarted", case_no=row.case_no, user=actor.user_id)
    return state.view


def _unreadable(case_no: str, error: Exception) -> WrongStage:
    log.warning("case.state_unreadable", case_no=case_no, error=str(error)[:300])
    return WrongStage(
        f"case {case_no}'s last state cannot be read from the case engine; close it with "
        "reasons (its family may then apply again)"
    )


async def close(
    *, db: Database, row: CaseRecord | EmergencyRecord, actor: Actor, reason: str
) -> CaseView | EmergencyView:
    """Close the halted case with reasons; the case as it now stands."""
    view = await db.write(
        close_halted, case_no=row.case_no, actor=actor, reason=reason, at=datetime.now(UTC)
    )
    log.info("case.closed_by_supervisor", case_no=row.case_no, user=actor.user_id)
    return view
