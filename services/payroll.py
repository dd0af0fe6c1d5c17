"""The monthly payroll behind the routes: starting a month's (a district officer, before the
bank's cut-off; the Schedule does it by itself on its day), the months run and the Schedule's
next run, a month's figures by township with its reconciliation, and its items."""

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.cases import Actor
from domain.contracts import PayrollMonth
from domain.errors import Conflict, NotFound, Unavailable
from domain.months import Month
from domain.payroll import PayrollStatus, check_month, payroll_workflow_id
from store import lists, payroll
from store.db import Database
from store.pages import Paged
from store.tables import PayrollItem, PayrollRecord, RecipientRecord
from workflows.client import PAYROLL_SCHEDULE
from workflows.payroll import PayrollWorkflow

log = structlog.get_logger()


@dataclass(frozen=True)
class Started:
    month: str
    status: str
    started_at: datetime
    started_by: str


async def start(
    *,
    db: Database,
    client: Client,
    month: str,
    actor: Actor,
    batch_size: int,
    townships_at_once: int,
    task_queue: str,
) -> Started:
    """The month's payroll, started now (once: a month that has run answers ``Conflict``)."""
    now = datetime.now(UTC)
    chosen = check_month(month, now=now)
    if await db.read(_has_run, month=chosen):
        raise Conflict(
            f"the payroll of {chosen} has run; a refused payment is re-issued once its "
            "household's account is corrected, not by running the month again"
        )
    try:
        await client.start_workflow(
            PayrollWorkflow.run,
            PayrollMonth(str(chosen), actor.user_id, batch_size, townships_at_once),
            id=payroll_workflow_id(chosen),
            task_queue=task_queue,
            # Again only after a run the engine stopped: it carries on, paying no one twice.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        raise Conflict(f"the payroll of {chosen} is running or has run") from None
    except RPCError:
        log.exception("payroll.start_failed", month=str(chosen))
        raise Unavailable(
            "the case engine is unavailable; nothing was started, try again"
        ) from None
    log.info("payroll.started", month=str(chosen), user=actor.user_id)
    return Started(str(chosen), PayrollStatus.running, now, actor.user_id)


def _has_run(session, *, month: Month) -> bool:
    row = session.get(PayrollRecord, str(month))
    return row is not None and row.status == PayrollStatus.completed


async def months(
    *, db: Database, client: Client | None
) -> tuple[list[PayrollRecord], datetime | None]:
    """The months run, newest first, and when the Schedule runs next (None: not known now)."""
    rows = await db.read(payroll.payrolls)
    next_run = None
    if client is not None:
        try:
            described = await client.get_schedule_handle(PAYROLL_SCHEDULE).describe()
            upcoming = described.info.next_action_times
            next_run = upcoming[0] if upcoming else None
        except RPCError:
            log.warning("payroll.schedule_unreadable")
    return rows, next_run


async def figures(
    *, db: Database, month: str, user: Actor
) -> tuple[PayrollRecord, list[payroll.Figures]]:
    chosen = Month.parse(month, field="path.month")
    row = await db.read(lambda session: session.get(PayrollRecord, str(chosen)))
    if row is None:
        raise NotFound(f"the payroll of {chosen} has not run")
    shares = await db.read(payroll.figures, month=chosen, jurisdiction=user.jurisdiction)
    return row, shares


async def items(
    *,
    db: Database,
    month: str,
    user: Actor,
    township: str | None,
    status: str | None,
    page: int,
    page_size: int,
) -> Paged[tuple[PayrollItem, RecipientRecord]]:
    chosen = Month.parse(month, field="path.month")
    return await db.read(
        lists.payroll_items, month=str(chosen), jurisdiction=user.jurisdiction,
        township=township, status=status, page=page, page_size=page_size,
    )  # fmt: skip
