"""Working days (工作日) on the State Council's holiday calendar, counted in Asia/Shanghai.

A working day is a weekday that is not a statutory holiday, or a weekend day made a working
day (调休). A year whose notice is not yet published is counted on weekdays only, and every
date computed from it is marked provisional.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone

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
