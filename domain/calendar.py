"""Working days (工作日) on the State Council's holiday calendar, counted in Asia/Shanghai.

A working day is a weekday that is not a statutory holiday, or a weekend day made a working
day (调休). A year whose notice is not yet published is counted on weekdays only, and every
date computed from it is marked provisional.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone

from domain.errors import InvalidData

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China keeps one offset all year, so a fixed offset is exact and needs no tz database."""


def local_date(moment: datetime) -> date:
    """The date in Asia/Shanghai of an aware timestamp."""
    return moment.astimezone(SHANGHAI).date()


def whole_years(since: date, on: date) -> int:
    """Completed years from ``since`` to ``on`` (an age, or years of residence)."""
    return on.year - since.year - ((on.month, on.day) < (since.month, since.day))


def end_of_day(day: date) -> datetime:
    """The instant a date ends in Asia/Shanghai (midnight starting the next day), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(), SHANGHAI).astimezone(UTC)


@dataclass(frozen=True)
class YearCalendar:
    """One year's published holidays and make-up working days."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]

    def __post_init__(self) -> None:
        for day in self.holidays | self.workdays:
            if day.year != self.year:
                raise ValueError(f"{day} is not in {self.year}")
        if both := self.holidays & self.workdays:
            raise ValueError(f"{min(both)} cannot be both a holiday and a working day")
        if weekdays := {d for d in self.workdays if d.weekday() < 5}:
            raise ValueError(
                f"{min(weekdays)} is a weekday; only weekend days are made working days"
            )


@dataclass(frozen=True)
class WorkingCalendar:
    years: dict[int, YearCalendar] = field(default_factory=dict)

    @classmethod
    def of(cls, years: Iterable[YearCalendar]) -> "WorkingCalendar":
        return cls({y.year: y for y in years})

    def is_published(self, year: int) -> bool:
        return year in self.years

    def is_working_day(self, day: date) -> bool:
        published = self.years.get(day.year)
        if published is not None:
            if day in published.holidays:
                return False
            if day in published.workdays:
                return True
        return day.weekday() < 5

    def add_working_days(self, start: date, count: int) -> tuple[date, bool]:
        """The ``count``-th working day after ``start`` (``start`` itself not counted).

        Returns the date and whether it is provisional (a year on the way is unpublished).
        """
        day, provisional = start, False
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            provisional |= not self.is_published(day.year)
            if self.is_working_day(day):
                remaining -= 1
        return day, provisional

    def working_days_between(self, after: date, up_to: date) -> int:
        """Working days in (after, up_to]: what a pause from ``after`` to ``up_to`` costs."""
        return sum(
            self.is_working_day(after + timedelta(days=n))
            for n in range(1, (up_to - after).days + 1)
        )


PAST_DAYS_LISTED = 10
"""How many past days a refused correction names (and how many more there are)."""


def check_past_unchanged(in_force: WorkingCalendar, year: YearCalendar, *, today: date) -> None:
    """Days before ``today`` (Asia/Shanghai) keep their kind: cases were counted on them, and a
    deadline met or missed stays so. ``InvalidData`` naming ``holidays`` (or ``workdays``) and
    the days ``year`` would add or remove before today, compared with the calendar in force."""
    published = in_force.years.get(year.year)
    for name, before, after in (
        ("holidays", published.holidays if published else frozenset(), year.holidays),
        ("workdays", published.workdays if published else frozenset(), year.workdays),
    ):
        changed = sorted(d for d in before ^ after if d < today)
        if not changed:
            continue
        listed = ", ".join(
            f"{d} ({'added' if d in after else 'removed'})" for d in changed[:PAST_DAYS_LISTED]
        )
        more = len(changed) - PAST_DAYS_LISTED
        raise InvalidData(
            name,
            f"days before today ({today}) cannot be changed: cases were counted on them. "
            f"This would change {listed}"
            + (f" and {more} more" if more > 0 else "")
            + f"; send them as GET /calendar/{year.year} has them, and correct today or later",
        )


@dataclass(frozen=True)
class WorkingDayIndex:
    """Working days between any two dates of a range, by one subtraction: for reports and
    lists that count for thousands of cases at once. Built from a ``WorkingCalendar``."""

    first: date
    counts: tuple[int, ...]
    """``counts[i]``: working days in (first, first + i days]."""

    @classmethod
    def over(cls, calendar: WorkingCalendar, first: date, last: date) -> "WorkingDayIndex":
        counts, total = [0], 0
        for n in range(1, (last - first).days + 1):
            total += calendar.is_working_day(first + timedelta(days=n))
            counts.append(total)
        return cls(first, tuple(counts))

    def between(self, after: date, up_to: date) -> int:
        """Working days in (after, up_to]; dates outside the range are clamped to it."""
        return self._at(up_to) - self._at(after)

    def _at(self, day: date) -> int:
        offset = min(max((day - self.first).days, 0), len(self.counts) - 1)
        return self.counts[offset]
