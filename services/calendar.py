"""The State Council's holiday notice of a year, entered by the admin. Publishing a year makes
every running case count its deadlines again (its timers move): applications, and emergencies
in their follow-up. Days before today cannot be changed."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

import structlog
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from domain.calendar import YearCalendar, check_past_unchanged, local_date
from domain.cases import Actor, CalendarPublished
from domain.errors import InvalidData
from services.cases import APPLICATIONS, EMERGENCIES
from store.calendar import cases_to_recount, entered, load_calendar, packaged_years, publish_year
from store.db import Database

log = structlog.get_logger()


@dataclass(frozen=True)
class CalendarYearRead:
    """A year's calendar and where it comes from: entered by the admin, the package's, or not
    yet published; with how many cases counted their deadlines again when it was entered."""

    year: int
    source: Literal["entered", "package", "unpublished"]
    holidays: list[date]
    workdays: list[date]
    cases_recomputed: int | None = None


async def year(*, db: Database, year: int) -> CalendarYearRead:
    return await db.read(_year, year=year)


def _year(session: Session, *, year: int) -> CalendarYearRead:
    published = load_calendar(session).years.get(year)
    if entered(session, year=year):
        source = "entered"
    elif year in packaged_years():
        source = "package"
    else:
        source = "unpublished"
    return CalendarYearRead(
        year=year,
        source=source,
        holidays=sorted(published.holidays) if published else [],
        workdays=sorted(published.workdays) if published else [],
    )


async def publish(
    *,
    db: Database,
    client: Client,
    user: Actor,
    year: int,
    holidays: list[date],
    workdays: list[date],
) -> CalendarYearRead:
    """Enter or correct a year's notice, unless it changes a day before today (Asia/Shanghai);
    every open case whose deadlines the year can move counts them again."""
    try:
        calendar = YearCalendar(year, frozenset(holidays), frozenset(workdays))
    except ValueError as bad:
        raise InvalidData("holidays", str(bad)) from None
    applications, emergencies = await db.write(_publish, calendar=calendar, user=user)
    published = CalendarPublished(years=[year])
    cases = [(APPLICATIONS, n) for n in applications] + [(EMERGENCIES, n) for n in emergencies]
    for kind, case_no in cases:
        try:
            await client.get_workflow_handle(kind.workflow_id(case_no)).signal(
                kind.workflow.calendar_published, published
            )
        except RPCError as gone:  # closed since the list was read: nothing left to count
            log.info("calendar.case_skipped", case_no=case_no, reason=gone.message)
    log.info("calendar.published", year=year, user=user.user_id, cases=len(cases))
    return CalendarYearRead(
        year=year,
        source="entered",
        holidays=sorted(calendar.holidays),
        workdays=sorted(calendar.workdays),
        cases_recomputed=len(cases),
    )


def _publish(
    session: Session, *, calendar: YearCalendar, user: Actor
) -> tuple[list[str], list[str]]:
    """Enter the year; the cases whose deadlines it can move (``store.calendar``)."""
    now = datetime.now(UTC)
    check_past_unchanged(load_calendar(session), calendar, today=local_date(now))
    publish_year(session, calendar=calendar, published_by=user.user_id, at=now)
    return cases_to_recount(session, year=calendar.year)
