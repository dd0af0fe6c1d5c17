"""Cases the case engine cannot move, found by the worker's watch and written into the records
for supervision: a workflow task that keeps failing (after a bad deploy, a nondeterminism
error: the server's TemporalReportedProblems search attribute), and a record with no workflow
behind it (an intake whose API process died between the record and the start)."""

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.supervision import NO_WORKFLOW
from store.db import Database
from store.supervision import engine_problems, never_written, set_engine_problem
from workflows.client import (
    CASE_WORKFLOWS,
    application_workflow_id,
    case_no_of,
    emergency_workflow_id,
)

log = structlog.get_logger()

WORKFLOW_IDS = {"application": application_workflow_id, "emergency": emergency_workflow_id}

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
    known = await db.read(engine_problems, prefix=FAILING)
    for case_no in known.keys() - failing.keys():  # it recovered
        await db.write(set_engine_problem, case_no=case_no, problem=None)
    for case_no, problem in failing.items():
        if known.get(case_no) != problem:
            await db.write(set_engine_problem, case_no=case_no, problem=problem)
            log.warning("case.engine_problem", case_no=case_no, problem=problem)

    window = (now - ORPHAN_WINDOW, now - ORPHAN_AFTER)
    for case_no, kind in await db.read(never_written, accepted_between=window):
        workflow_id = WORKFLOW_IDS[kind](case_no)
        try:
            await client.get_workflow_handle(workflow_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                await db.write(set_engine_problem, case_no=case_no, problem=NO_WORKFLOW)
                log.warning("case.no_workflow", case_no=case_no)


async def watch_engine(client: Client, db: Database, *, every: timedelta) -> None:
    while True:
        try:
            await mark_engine_problems(client, db, now=datetime.now(UTC))
        except Exception:
            log.exception("watch.engine_failed")
        await asyncio.sleep(every.total_seconds())
