"""The watch list (低保边缘、动态监测, ``domain.watch``) in the records: one row per watched
household, the person sealed and masked, its check-ups on the row and its trail."""

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Session, select

from domain.cases import SYSTEM, Actor, AuditEntry, CaseView
from domain.errors import NotFound
from domain.policy import Policy
from domain.supervision import Stuck, check_up_overdue_row
from domain.townships import covers
from domain.watch import (
    CheckUp,
    WatchDates,
    WatchStatus,
    after_check_up,
    check_check_up,
    watch_dates,
)
from store.evidence import append_entry
from store.jurisdiction import within
from store.records import last_seq
from store.tables import CaseRecord, WatchEntry

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


def watch_no(entry_id: int) -> str:
    """The entry's name on its audit trail and in the supervision list."""
    return f"watch-{entry_id}"


def add_entry(
    session: Session, *, reason: str, source: str, township: str, village: str, name: str,
    id_number: str, since: date, policy: Policy | None, at: datetime, actor: Actor = SYSTEM,
    income_per_person: Decimal | None = None, dates: WatchDates | None = None,
) -> WatchEntry:  # fmt: skip
    """The household on the watch list from ``since`` (once per source and reason). The person's
    numbers stay in the source's sealed records: the entry keeps them masked and names its
    source, which an application opened from a check-up reads."""
    found = session.exec(
        select(WatchEntry).where(WatchEntry.source == source, WatchEntry.reason == reason)
    ).first()
    if found is not None:
        return found
    dates = dates or watch_dates(since, policy)
    row = WatchEntry(
        reason=reason, source=source, township=township, village=village, name=name,
        id_number=id_number, phone="", person="", id_number_hash="", key_id="",
        income_per_person=income_per_person, status=WatchStatus.watched, since=since,
        watch_until=dates.watch_until, check_up_due=dates.check_up_due, added_at=at,
        added_by=actor.user_id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    _trail(session, row, actor=actor, at=at, action="watched", before=None,
           note=f"{reason} ({source}); check-up by {row.check_up_due}, until {row.watch_until}")  # fmt: skip
    return row


def watch_after_case(session: Session, view: CaseView, *, at: datetime) -> None:
    """The household of a decided case on the watch list, as its decision planned (a 低保
    refusal near the line, an approved 临时救助): once, whatever rewrites the case."""
    plan = view.watch
    if plan is None:
        return
    row = session.get(CaseRecord, view.case_no)
    add_entry(
        session, reason=plan.reason, source=view.case_no, township=view.township,
        village=view.village, name=view.applicant_name,
        id_number=row.applicant_id_number if row else "", since=plan.since, policy=None,
        at=at, income_per_person=plan.income_per_person,
        dates=WatchDates(plan.watch_until, plan.check_up_due),
    )  # fmt: skip


def _trail(session: Session, row: WatchEntry, *, actor: Actor, at: datetime, action: str,
           before: str | None, note: str) -> None:  # fmt: skip
    number = watch_no(row.id)
    append_entry(
        session,
        AuditEntry(
            case_no=number, seq=last_seq(session, case_no=number) + 1, at=at, actor=actor,
            action=action, from_stage=before, to_stage=row.status, note=note,
        ),
    )  # fmt: skip


def listing_query(*, user: Actor, equal: dict[str, object]):
    query = within(select(WatchEntry), WatchEntry, jurisdiction=user.jurisdiction)
    for name, value in equal.items():
        if value is not None:
            query = query.where(getattr(WatchEntry, name) == value)
    return query


def entry(session: Session, *, entry_id: int, user: Actor) -> WatchEntry:
    row = session.get(WatchEntry, entry_id)
    if row is None or not covers(user.jurisdiction, row.village):
        raise NotFound(f"no watched household {entry_id} in your jurisdiction")
    return row


def record_check_up(
    session: Session, *, entry_id: int, check_up: CheckUp, on: date, at: datetime, policy: Policy,
    opened: str | None = None,
) -> WatchEntry:  # fmt: skip
    """The check-up on the entry's record and trail; ``opened``: the application it opened
    (the entry then ends as ``application_opened``)."""
    row = session.exec(
        select(WatchEntry).where(WatchEntry.id == entry_id).with_for_update()
    ).first()
    if row is None or not covers(check_up.actor.jurisdiction, row.village):
        raise NotFound(f"no watched household {entry_id} in your jurisdiction")
    check_check_up(check_up, status=row.status)
    before = row.status
    row.status, row.check_up_due = after_check_up(
        check_up.outcome, on=on, watch_until=row.watch_until, policy=policy
    )
    row.last_check_up, row.last_outcome, row.last_note = on, check_up.outcome, check_up.note
    session.add(row)
    session.flush()
    _trail(session, row, actor=check_up.actor, at=at, action=f"check_up_{check_up.outcome}",
           before=before, note=check_up.note)  # fmt: skip
    if opened is not None:
        mark_application(session, entry_id=row.id, case_no=opened, at=at, actor=check_up.actor)
        session.flush()
    return row


def mark_application(session: Session, *, entry_id: int, case_no: str, at: datetime,
                     actor: Actor) -> None:  # fmt: skip
    row = session.get(WatchEntry, entry_id)
    before = row.status
    row.status, row.case_no = WatchStatus.application_opened, case_no
    session.add(row)
    _trail(session, row, actor=actor, at=at, action="application_opened", before=before,
           note=case_no)  # fmt: skip
