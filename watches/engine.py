"""Cases the case engine cannot move, found by the worker's watch and written into the records
for supervision: a workflow task that keeps failing (after a bad deploy, a nondeterminism
error: the server's TemporalReportedProblems search attribute), and a record with no workflow
behind it (an intake whose API process died between the record and the start)."""

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.supervision import NO_WORKFLOW
from store.db import Database
from store.supervision import set_engine_problem
from store.tables import CaseRecord, EmergencyRecord
from workflows.client import (
    CASE_WORKFLOWS,
    application_workflow_id,
    case_no_of,
    emergency_workflow_id,
)

log = structlog.get_logger()

FAILING = "its workflow task keeps failing"
ORPHAN_AFTER = timedelta(minutes=2)
"""A record older than this whose workflow never wrote is looked up in the engine."""
ORPHAN_WINDOW = timedelta(minutes=30)
"""…and looked up no longer after this: an intake that died did so within minutes."""


async def mark_engine_problems(client: Client, db: Database, *, now: datetime) -> None:
    types = " OR ".join(f"WorkflowType = '{name}'" for name in CASE_WORKFLOWS)
    query = f"({types}) AND ExecutionStatus = 'Running' AND TemporalReportedProblems IS NOT NULL"
    failing = {}
    async for execution in client.list_workflows(query):
        problems = execution.search_attributes.get("TemporalReportedProblems") or []
        failing[case_no_of(execution.id)] = f"{FAILING} ({', '.join(problems)})"
    known = await db.read(_marked, prefix=FAILING)
    for case_no in known.keys() - failing.keys():  # it recovered
        await db.write(set_engine_problem, case_no=case_no, problem=None)
    for case_no, problem in failing.items():
        if known.get(case_no) != problem:
            await db.write(set_engine_problem, case_no=case_no, problem=problem)
            log.warning("case.engine_problem", case_no=case_no, problem=problem)

    for case_no, workflow_id in await db.read(_unwritten, now=now):
        try:
            await client.get_workflow_handle(workflow_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                await db.write(set_engine_problem, case_no=case_no, problem=NO_WORKFLOW)
                log.warning("case.no_workflow", case_no=case_no)


def _marked(session: Session, *, prefix: str) -> dict[str, str]:
    return {
        case_no: problem
        for table in (CaseRecord, EmergencyRecord)
        for case_no, problem in session.exec(
            select(table.case_no, table.engine_problem).where(
                table.engine_problem.startswith(prefix)
            )
        )
    }


def _unwritten(session: Session, *, now: datetime) -> list[tuple[str, str]]:
    """Records no workflow has written yet (version 0), a little while after intake."""
    window = (now - ORPHAN_WINDOW, now - ORPHAN_AFTER)
    found = []
    for table, started, workflow_id in (
        (CaseRecord, CaseRecord.accepted_at, application_workflow_id),
        (EmergencyRecord, EmergencyRecord.requested_at, emergency_workflow_id),
    ):
        rows = session.exec(
            select(table.case_no).where(
                table.version == 0, table.engine_problem.is_(None), started.between(*window)
            )
        )
        found += [(case_no, workflow_id(case_no)) for case_no in rows]
    return found


async def watch_engine(client: Client, db: Database, *, every: timedelta) -> None:
    while True:
        try:
            await mark_engine_problems(client, db, now=datetime.now(UTC))
        except Exception:
            log.exception("watch.engine_failed")
        await asyncio.sleep(every.total_seconds())
