"""Cases whose workflow the engine stopped (terminated by an operator or by the server's
limits, failed, timed out) are marked halted in the case records, so that no list shows them
as open, and their payments are reconciled with the bank (``domain.halting``)."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from temporalio.client import Client, WorkflowExecutionStatus

from activities.external import ExternalActivities
from domain.halting import payment_keys
from domain.sealing import KeyRing
from store.db import Database
from store.records import (
    either_record,
    halt_case,
    halted_unreconciled,
    live_among,
    reconcile_case,
    view_of,
)
from workflows.client import CASE_WORKFLOWS, HALTED_STATUSES, case_no_of

_VISIBILITY_NAMES = {
    WorkflowExecutionStatus.TERMINATED: "Terminated",
    WorkflowExecutionStatus.FAILED: "Failed",
    WorkflowExecutionStatus.TIMED_OUT: "TimedOut",
    WorkflowExecutionStatus.CANCELED: "Canceled",
}

log = structlog.get_logger()


async def mark_halted_cases(client: Client, db: Database, *, since: datetime) -> list[str]:
    """Halt the cases with work left whose workflow closed abnormally since ``since`` and has
    no run going now (a reset starts one); their numbers."""
    statuses = " OR ".join(f"ExecutionStatus = '{_VISIBILITY_NAMES[s]}'" for s in HALTED_STATUSES)
    types = " OR ".join(f"WorkflowType = '{name}'" for name in CASE_WORKFLOWS)
    query = f"({types}) AND CloseTime > '{since.isoformat()}' AND ({statuses})"
    stopped = {
        case_no_of(execution.id): execution async for execution in client.list_workflows(query)
    }
    halted = []
    for case_no in await db.read(live_among, case_nos=list(stopped)):
        latest = await client.get_workflow_handle(stopped[case_no].id).describe()
        if latest.status not in HALTED_STATUSES:
            continue  # running again (reset, restarted), or ended as it should
        if await db.write(
            halt_case,
            case_no=case_no,
            status=latest.status.name.lower(),
            at=latest.close_time or datetime.now(UTC),
        ):
            log.warning("case.halted", case_no=case_no, status=latest.status.name)
            halted.append(case_no)
    return halted


async def reconcile_halted_cases(
    db: Database, bank: ExternalActivities, *, ring: KeyRing, now: datetime, after: timedelta
) -> list[str]:
    """Ask the bank what it paid under the keys of each case halted at least ``after`` ago
    (longer than a payment attempt still under way could take), and record it; the cases
    reconciled. A case whose bank cannot be asked now is tried again next time."""
    done = []
    for case_no in await db.read(halted_unreconciled, halted_before=now - after):
        view = view_of(await db.read(either_record, case_no=case_no))
        try:
            transfers = [t for key in payment_keys(view) for t in await bank.transfers_under(key)]
        except httpx.HTTPError as unreachable:
            log.warning("case.reconcile_postponed", case_no=case_no, error=str(unreachable)[:200])
            continue
        if await db.write(reconcile_case, case_no=case_no, transfers=transfers, ring=ring, at=now):
            log.info("case.reconciled", case_no=case_no, transfers=len(transfers))
            done.append(case_no)
    return done


async def watch_halted_cases(
    client: Client,
    db: Database,
    bank: ExternalActivities,
    *,
    ring: KeyRing,
    every: timedelta,
    reconcile_after: timedelta,
    window: timedelta = timedelta(days=30),
) -> None:
    """Every ``every``, look back over ``window`` (longer than any outage of the workers) for
    halted cases, then reconcile those halted long enough ago."""
    while True:
        try:
            now = datetime.now(UTC)
            await mark_halted_cases(client, db, since=now - window)
            await reconcile_halted_cases(db, bank, ring=ring, now=now, after=reconcile_after)
        except Exception:  # the engine or the database is down: look again next time
            log.exception("watch.failed")
        await asyncio.sleep(every.total_seconds())
