"""Cases whose workflow the engine stopped (terminated by an operator or by the server's
limits, failed, timed out) are marked halted in the case records, so that no list shows them
as open and their households may apply again; the audit trail is sealed (``seal``); and after
a key rotation the ID numbers' keyed hashes are brought to the current key
(``store.hashed_ids``). Runs beside the worker; idempotent, so any number of workers may run
it."""

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowExecutionStatus

from domain.cases import CLOSED_STAGES
from domain.emergency import CLOSED as EMERGENCY_CLOSED
from domain.sealing import KeyRing
from store.db import Database
from store.evidence import SEAL_MARGIN, seal
from store.hashed_ids import TABLES as HASHED_TABLES
from store.hashed_ids import rehash_batch
from store.records import halt_case
from store.tables import CaseRecord, EmergencyRecord
from workflows.client import CASE_WORKFLOWS, HALTED_STATUSES, case_no_of

_VISIBILITY_NAMES = {
    WorkflowExecutionStatus.TERMINATED: "Terminated",
    WorkflowExecutionStatus.FAILED: "Failed",
    WorkflowExecutionStatus.TIMED_OUT: "TimedOut",
    WorkflowExecutionStatus.CANCELED: "Canceled",
}

log = structlog.get_logger()


async def mark_halted_cases(client: Client, db: Database, *, since: datetime) -> list[str]:
    """Halt the open cases whose workflow closed abnormally since ``since``; their numbers."""
    statuses = " OR ".join(f"ExecutionStatus = '{_VISIBILITY_NAMES[s]}'" for s in HALTED_STATUSES)
    types = " OR ".join(f"WorkflowType = '{name}'" for name in CASE_WORKFLOWS)
    query = f"({types}) AND CloseTime > '{since.isoformat()}' AND ({statuses})"
    stopped = {
        case_no_of(execution.id): execution async for execution in client.list_workflows(query)
    }
    still_open = await db.read(_open_among, case_nos=list(stopped))
    for case_no in still_open:
        execution = stopped[case_no]
        await db.write(
            halt_case,
            case_no=case_no,
            status=execution.status.name.lower() if execution.status else "stopped",
            at=execution.close_time or datetime.now(UTC),
        )
        log.warning("case.halted", case_no=case_no, status=execution.status)
    return still_open


def _open_among(session: Session, *, case_nos: list[str]) -> list[str]:
    if not case_nos:
        return []
    closed = [s.value for s in CLOSED_STAGES | EMERGENCY_CLOSED]
    return [
        case_no
        for table in (CaseRecord, EmergencyRecord)
        for case_no in session.exec(
            select(table.case_no).where(table.case_no.in_(case_nos), table.stage.not_in(closed))
        )
    ]


async def watch_halted_cases(
    client: Client, db: Database, *, every: timedelta, window: timedelta = timedelta(days=30)
) -> None:
    """Every ``every``, look back over ``window`` (longer than any outage of the workers)."""
    while True:
        try:
            await mark_halted_cases(client, db, since=datetime.now(UTC) - window)
        except Exception:  # the engine or the database is down: look again next time
            log.exception("watch.failed")
        await asyncio.sleep(every.total_seconds())


async def seal_audit_trail(db: Database, *, margin: timedelta = SEAL_MARGIN) -> int:
    """Seal the audit trail up to the entries written less than ``margin`` ago, a batch per
    transaction; how many seals were made."""
    made = 0
    while True:
        try:
            if await db.write(seal, now=datetime.now(UTC), margin=margin) is None:
                return made
        except IntegrityError:  # another worker made this seal: it carries on from there
            return made
        made += 1


async def watch_audit_trail(db: Database, *, every: timedelta) -> None:
    """Every ``every``, seal what is old enough."""
    while True:
        try:
            if made := await seal_audit_trail(db):
                log.info("audit.sealed", seals=made)
        except Exception:  # the database is down: seal next time
            log.exception("watch.seal_failed")
        await asyncio.sleep(every.total_seconds())


async def rehash_id_numbers(db: Database, *, ring: KeyRing) -> int:
    """Re-hash under the current key the ID numbers kept under another (after a rotation), a
    batch of cases per transaction; how many rows changed (0 when all are current)."""
    changed = 0
    for table in HASHED_TABLES:
        after: str | None = ""
        while after is not None:
            done, after = await db.write(rehash_batch, ring=ring, table=table, after=after)
            changed += done
    return changed


async def watch_id_numbers(db: Database, *, ring: KeyRing, every: timedelta) -> None:
    """Every ``every``, re-hash what a rotation left under another key."""
    while True:
        try:
            if changed := await rehash_id_numbers(db, ring=ring):
                log.info("id_numbers.rehashed", rows=changed, key_id=ring.current)
        except Exception:  # the database is down: next time
            log.exception("watch.rehash_failed")
        await asyncio.sleep(every.total_seconds())
