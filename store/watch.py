"""The watch list (低保边缘、动态监测, ``domain.watch``) in the records: one row per watched
household, the person sealed and masked, its check-ups on the row and its trail."""

from datetime import date

from sqlmodel import Session, select

from domain.supervision import Stuck, check_up_overdue_row
from store.jurisdiction import within
from store.tables import WatchEntry

LIMIT = 1_000


def check_up_problems(
    session: Session, *, jurisdiction: str, township: str | None, kind: str | None, today: date
) -> list[Stuck]:
    """Watched households whose check-up is past due, the oldest first: a reminder read by
    date from the list (no workflow per household)."""
    if kind not in (None, "watch"):
        return []
    query = within(
        select(WatchEntry).where(WatchEntry.status == "watched", WatchEntry.check_up_due < today),
        WatchEntry,
        jurisdiction=jurisdiction,
    )
    if township:
        query = query.where(WatchEntry.township == township)
    return [
        check_up_overdue_row(
            entry_id=e.id, reason=e.reason, township=e.township, due=e.check_up_due
        )  # fmt: skip
        for e in session.exec(query.order_by(WatchEntry.check_up_due).limit(LIMIT))
    ]
