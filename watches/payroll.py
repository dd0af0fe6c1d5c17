"""The register's two loose ends, tied by the worker: 低保 and 特困 households approved and
paid before an approval entered them in the register are entered once (``register_approved``),
and a month whose re-issue the engine did not take when its corrected account was recorded is
started (a re-issue's workflow is named by its key, and the bank pays a key once: starting it
again is harmless)."""

import asyncio
from datetime import timedelta

import structlog
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from domain.application import Application
from domain.cases import Actor, BankAccount
from domain.sealing import KeyRing
from store.db import Database
from store.payroll import reissues_under_way
from store.recipients import approved_unregistered, register_approved
from workflows.application import ApplicationWorkflow
from workflows.client import application_workflow_id, start_reissue

log = structlog.get_logger()

QUERY_TIMEOUT = timedelta(seconds=10)


async def register_approved_cases(
    client: Client, db: Database, *, ring: KeyRing, timeout: timedelta = QUERY_TIMEOUT
) -> tuple[list[str], dict[str, str]]:
    """Every such case's household entered: the households entered, and the cases a person
    must look at with why (an account the records do not keep, a member who now belongs to
    another household)."""
    entered, left, after = [], {}, ""
    while cases := await db.read(approved_unregistered, after=after):
        after = cases[-1]
        for case_no in cases:
            account, approved_by = await _from_workflow(client, case_no, timeout=timeout)
            recipient_no, why = await db.write(
                register_approved, case_no=case_no, account=account,
                approved_by=approved_by, ring=ring,
            )  # fmt: skip
            if recipient_no:
                entered.append(recipient_no)
                log.info("recipient.registered_later", case_no=case_no, recipient_no=recipient_no)
            else:
                left[case_no] = why
                log.warning("recipient.not_registered", case_no=case_no, why=why)
    return entered, left


async def _from_workflow(
    client: Client, case_no: str, *, timeout: timedelta
) -> tuple[BankAccount | None, Actor | None]:
    """The account the case paid into and who approved it, as its workflow holds them (None
    when no worker can read its history: gone past the engine's retention, say)."""
    try:
        state: Application = await client.get_workflow_handle(
            application_workflow_id(case_no)
        ).query(ApplicationWorkflow.state, rpc_timeout=timeout)
    except (RPCError, WorkflowQueryFailedError):
        return None, None
    decision = getattr(state, "decision", None)
    return state.account, decision.actor if decision else None


async def start_reissues(client: Client, db: Database, *, task_queue: str) -> int:
    """The re-issues under way whose workflow is not running, started; how many."""
    started = 0
    for reissue in await db.read(reissues_under_way):
        if not await start_reissue(client, reissue, task_queue=task_queue):
            continue
        started += 1
        log.info(
            "recipient.reissue_started", recipient_no=reissue.recipient_no, month=reissue.month
        )
    return started


async def watch_payroll(
    client: Client, db: Database, *, ring: KeyRing, task_queue: str, every: timedelta
) -> None:
    """Enter the households approved before the register once, then start stranded re-issues."""
    try:
        await register_approved_cases(client, db, ring=ring)
    except Exception:  # the watch goes on; the next worker start tries again
        log.exception("watch.register_approved_failed")
    while True:
        try:
            await start_reissues(client, db, task_queue=task_queue)
        except Exception:  # an engine or database away for a while: the next round tries again
            log.exception("watch.reissues_failed")
        await asyncio.sleep(every.total_seconds())
