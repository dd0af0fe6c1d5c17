"""The working-day calendar: published years from the ``chinese-calendar`` package, overridden
and extended by the years the admin enters from the State Council's notice."""

from datetime import date, datetime
from functools import lru_cache

import chinese_calendar
from sqlmodel import Session, and_, delete, or_, select

from domain.calendar import WorkingCalendar, YearCalendar
from domain.cases import CLOSED_STAGES, Stage
from domain.emergency import FOLLOWING_UP
from store.tables import CalendarDay, CalendarYear, CaseRecord, EmergencyRecord


@lru_cache
def packaged_years() -> dict[int, YearCalendar]:
    """Every year the installed ``chinese-calendar`` release knows."""
    holidays: dict[int, set[date]] = {}
    workdays: dict[int, set[date]] = {}
    for day in chinese_calendar.holidays:
        holidays.setdefault(day.year, set()).add(day)
    for day in chinese_calendar.workdays:
        workdays.setdefault(day.year, set()).add(day)
    return {
        year: YearCalendar(year, frozenset(holidays[year]), frozenset(workdays.get(year, ())))
        for year in holidays
    }


def load_calendar(session: Session) -> WorkingCalendar:
    years = dict(packaged_years())
    entered: dict[int, tuple[set[date], set[date]]] = {
        y.year: (set(), set()) for y in session.exec(select(CalendarYear))
    }
    for row in session.exec(select(CalendarDay)):
        if row.year in entered:
            entered[row.year][0 if row.kind == "holiday" else 1].add(row.day)
    for year, (holidays, workdays) in entered.items():
        years[year] = YearCalendar(year, frozenset(holidays), frozenset(workdays))
    return WorkingCalendar(years)


def entered(session: Session, *, year: int) -> bool:
    """Whether the admin entered the year's notice (else the package's, if any, is in force)."""
    return session.get(CalendarYear, year) is not None


def publish_year(
    session: Session, *, calendar: YearCalendar, published_by: str, at: datetime
) -> None:
    """Enter (or correct) a year's notice; replaces whatever was entered for that year."""
    session.exec(delete(CalendarDay).where(CalendarDay.year == calendar.year))
    session.merge(CalendarYear(year=calendar.year, published_by=published_by, published_at=at))
    session.add_all(
        [CalendarDay(day=d, year=calendar.year, kind="holiday") for d in calendar.holidays]
        + [CalendarDay(day=d, year=calendar.year, kind="workday") for d in calendar.workdays]
    )


def cases_to_recount(session: Session, *, year: int) -> tuple[list[str], list[str]]:
    """The cases whose deadlines the year's calendar can move: the applications whose
    deadlines are provisional or fall in that year (open ones, and refusals whose written
    notice is still due), and the emergencies whose follow-up does."""
    first_day = date(year, 1, 1)
    c = CaseRecord
    applications = session.exec(
        select(c.case_no).where(
            or_(
                and_(
                    c.stage.not_in([s.value for s in CLOSED_STAGES]),
                    or_(c.provisional, c.decision_due >= first_day),
                ),
                # a refusal whose written notice is still due
                and_(
                    c.stage == Stage.refused.value,
                    c.refusal_notified_at.is_(None),
                    c.refusal_notice_due >= first_day,
                ),
            )
        )
    )
    emergencies = session.exec(
        select(EmergencyRecord.case_no).where(
            EmergencyRecord.stage.in_([s.value for s in FOLLOWING_UP]),
            EmergencyRecord.follow_up_due >= first_day,
        )
    )
    return list(applications), list(emergencies)
