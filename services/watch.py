"""The watch list (低保边缘、动态监测) behind the routes: the township's watched households and
their check-ups (回访). An overdue check-up is a reminder read from the list by its date
(``store.watch.check_up_problems`` in the supervision list): no workflow per household."""

from datetime import UTC, datetime

from temporalio.client import Client

from domain.calendar import local_date
from domain.cases import Actor, AssistanceType
from domain.policy import Policy
from domain.watch import CheckUp, check_check_up
from services import intake
from settings import Settings
from store import watch
from store.db import Database
from store.pages import Paged, paged
from store.tables import WatchEntry


async def listing(
    *, db: Database, user: Actor, equal: dict[str, object], page: int, page_size: int
) -> Paged[WatchEntry]:
    """The jurisdiction's watched households, the check-up due soonest first."""
    return await db.read(
        lambda session: paged(
            session,
            watch.listing_query(user=user, equal=equal),
            order_by=[WatchEntry.check_up_due, WatchEntry.id],
            page=page,
            page_size=page_size,
        )  # fmt: skip
    )


async def check_up(*, db: Database, entry_id: int, check_up: CheckUp, policy: Policy) -> WatchEntry:
    now = datetime.now(UTC)
    return await db.write(
        watch.record_check_up, entry_id=entry_id, check_up=check_up, on=local_date(now), at=now,
        policy=policy,
    )  # fmt: skip


async def check_up_opening(
    *, db: Database, client: Client, settings: Settings, entry_id: int, check_up: CheckUp,
    assistance_type: AssistanceType,
) -> tuple[WatchEntry, bool]:  # fmt: skip
    """A worsened check-up that opens the household's application itself (through the
    intake, channel ``proactive``), then is recorded with the case it opened: the entry, and
    whether the case was the household's open one (linked, not doubled). Checked before
    anything is opened."""
    entry = await db.read(watch.entry, entry_id=entry_id, user=check_up.actor)
    check_check_up(check_up, status=entry.status)
    reason = f"动态监测回访发现情况恶化 (watch-{entry_id}): {check_up.note}"[:2000]
    taken = await intake.open_for_family(
        db=db, client=client, settings=settings, user=check_up.actor, source=entry.source,
        assistance_type=assistance_type, reason=reason,
    )  # fmt: skip
    now = datetime.now(UTC)
    row = await db.write(
        watch.record_check_up, entry_id=entry_id, check_up=check_up, on=local_date(now), at=now,
        policy=settings.policy, opened=taken.case_no,
    )  # fmt: skip
    return row, taken.linked
