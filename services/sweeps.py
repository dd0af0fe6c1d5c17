"""Sweeps of a township's villages (摸底排查) behind the routes: the sweep recorded with a
referral for each family found (``services.referrals``' records and deadline workflow: the
same inbox, outcomes and linking as a department's referral), and the township's sweeps."""

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from temporalio.client import Client

from domain.errors import Unavailable
from domain.policy import Policy
from domain.sealing import KeyRing
from domain.sweeps import SweepRecord
from services.referrals import Shown, _started
from store import sweeps
from store.db import Database
from store.pages import Paged, paged
from store.tables import SweepRow
from workflows.client import start_referral

log = structlog.get_logger()


@dataclass(frozen=True)
class Swept:
    row: SweepRow
    referrals: list[Shown]
    """The referrals its families became, numbers masked."""


async def record(
    *, db: Database, client: Client, record: SweepRecord, policy: Policy, ring: KeyRing,
    task_queue: str,
) -> Swept:  # fmt: skip
    row, filed = await db.write(
        sweeps.record_sweep, record=record, now=datetime.now(UTC), policy=policy, ring=ring
    )
    for each in filed:
        if each.start is None:  # linked: nothing to wait for
            continue
        try:
            await start_referral(client, each.start, task_queue=task_queue)
        except Exception:
            log.exception("sweep.referral_start_failed", case_no=each.row.referral_no)
            if not await _started(client, each.row.referral_no):
                # Nothing kept: a referral's clock already started finds no referral and ends.
                await db.write(sweeps.discard_sweep, sweep_id=row.id)
                raise Unavailable(
                    "the case engine is unavailable; nothing was saved, try again"
                ) from None
    log.info(
        "sweep.recorded", township=row.township, villages=len(record.villages),
        families=row.families,
    )  # fmt: skip
    return Swept(row, [Shown(f.row, f.row.id_number, f.row.phone) for f in filed])


async def listing(*, db: Database, township: str, page: int, page_size: int) -> Paged[SweepRow]:
    """The township's sweeps, newest first."""
    return await db.read(
        lambda session: paged(
            session,
            sweeps.sweeps_query(township=township),
            order_by=[SweepRow.swept_on.desc(), SweepRow.id.desc()],
            page=page,
            page_size=page_size,
        )  # fmt: skip
    )
