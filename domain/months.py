"""Months (月份), as benefits and payrolls count them: ``YYYY-MM``, in Asia/Shanghai."""

import re
from dataclasses import dataclass
from datetime import date, datetime

from domain.calendar import local_date
from domain.errors import InvalidData

_FORM = re.compile(r"(\d{4})-(\d{2})")
FIRST_YEAR, LAST_YEAR = 2000, 2100
"""Months outside these years are typing errors."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str, *, field: str = "month") -> "Month":
        """``YYYY-MM`` of a year this system can mean; else ``InvalidData`` naming ``field``."""
        found = _FORM.fullmatch(text.strip()) if isinstance(text, str) else None
        if found is None:
            raise InvalidData(field, "a month is written YYYY-MM, e.g. 2026-12")
        year, month = int(found[1]), int(found[2])
        if not 1 <= month <= 12:
            raise InvalidData(field, f"{text} is not a month: months run from 01 to 12")
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise InvalidData(field, f"{text} is not a month of {FIRST_YEAR}–{LAST_YEAR}")
        return cls(year, month)

    @classmethod
    def of(cls, day: date) -> "Month":
        return cls(day.year, day.month)

    @classmethod
    def at(cls, moment: datetime) -> "Month":
        """The month a moment falls in, in Asia/Shanghai."""
        return cls.of(local_date(moment))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def plus(self, months: int) -> "Month":
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)
