"""The watch list (低保边缘、动态监测) behind the routes: the township's watched households and
their check-ups (回访). An overdue check-up is a reminder read from the list by its date
(``store.watch.check_up_problems`` in the supervision list): no workflow per household."""

from datetime import UTC, datetime

from domain.calendar import local_date
from domain.cases import Actor
from domain.policy import Policy
from domain.watch import CheckUp
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
