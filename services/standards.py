"""A new 低保 standard behind the routes: kept, then applied to the register by its workflow
(``StandardChangeWorkflow``), which the same request again starts only if the engine stopped
it."""

from datetime import UTC, datetime
from decimal import Decimal

import structlog
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.cases import Actor
from domain.contracts import StandardChangeRun
from domain.errors import Unavailable
from store import standards
from store.db import Database
from store.tables import DibaoStandardChange
from workflows.standards import StandardChangeWorkflow, standard_workflow_id

log = structlog.get_logger()


async def set_standard(
    *,
    db: Database,
    client: Client,
    from_month: str,
    urban: Decimal,
    rural: Decimal,
    reasons: str,
    actor: Actor,
    task_queue: str,
    page_size: int,
) -> DibaoStandardChange:
    """The standard kept (the same one again: the one kept), and its workflow started unless
    it runs or ran."""
    row, new = await db.write(
        standards.record_change, from_month=from_month, urban=urban, rural=rural,
        reasons=reasons, actor=actor, now=datetime.now(UTC),
    )  # fmt: skip
    try:
        await client.start_workflow(
            StandardChangeWorkflow.run,
            StandardChangeRun(row.from_month, page_size),
            id=standard_workflow_id(row.from_month),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        pass
    except RPCError:
        log.exception("standard.start_failed", from_month=row.from_month)
        raise Unavailable(
            "the standard is kept, but the case engine is unavailable to apply it to the "
            "register; send the same request again"
        ) from None
    if new:
        log.info("standard.set", from_month=row.from_month, user=actor.user_id)
    return row


async def listing(*, db: Database) -> list[DibaoStandardChange]:
    return await db.read(standards.changes)
