"""摸底排查 (主动发现): a township sweeps its villages at a cadence, and each family it finds in
hardship becomes a referral of situation ``found_in_sweep`` in its own inbox, verified and
answered as a department's referral is (``domain.referrals``).

Pure: what a sweep must say, when a township's next sweep is due (the cadence, a policy
setting), and the compliance report's count of sweeps per township.
"""

import calendar as months
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from domain.cases import Actor, Role
from domain.errors import InvalidData, NotPermitted
from domain.referrals import check_situation

MAX_VILLAGES = 100
MAX_FAMILIES = 200
"""A sweep's families are filed in one request: bounded, so no request holds the township's
inbox for long; a larger sweep is recorded in parts."""

SWEEP_DEPARTMENT = "township_sweep"
"""The ``department`` of a referral found in a sweep: no liaison's department, so none reads
it; the township's caseworkers and the district do."""


@dataclass(frozen=True)
class FamilyFound:
    """A family the sweep found: as a referral names it, with the hardship seen."""

    name: str
    id_number: str
    phone: str
    village: str
    situation: str
    note: str = ""


@dataclass(frozen=True)
class SweepRecord:
    actor: Actor
    township: str
    swept_on: date
    villages: tuple[str, ...]
    families: tuple[FamilyFound, ...] = field(default_factory=tuple)
    note: str = ""


def check_sweep(record: SweepRecord, *, villages_of_township: set[str], today: date) -> None:
    """By the township's own assistant or the district; every village covered is one of the
    township's, each family found lives in one of them, and its hardship is a referral's."""
    actor = record.actor
    if actor.role not in (Role.township_assistant, Role.district_officer):
        raise NotPermitted("a sweep is recorded by the township's assistant or the district")
    if record.swept_on > today:
        raise InvalidData("swept_on", "a sweep is recorded once done: not a day to come")
    if not record.villages:
        raise InvalidData("villages", "name the villages the sweep covered")
    if len(set(record.villages)) != len(record.villages):
        raise InvalidData("villages", "a village appears twice")
    for i, village in enumerate(record.villages):
        if village not in villages_of_township:
            raise InvalidData(
                f"villages[{i}]", f"{village} is not a village of township {record.township}"
            )
    for i, family in enumerate(record.families):
        if family.village not in record.villages:
            raise InvalidData(
                f"families[{i}].village",
                f"{family.village} is not among the villages this sweep covered",
            )
        try:
            check_situation(family.situation)
        except InvalidData as bad:
            raise InvalidData(f"families[{i}].situation", bad.message) from None
    numbers = [f.id_number for f in record.families]
    if len(set(numbers)) != len(numbers):
        raise InvalidData("families", "a family (its ID number) appears twice")


def add_months(day: date, count: int) -> date:
    """The same day ``count`` months later (the month's last day where it has none)."""
    month = day.month - 1 + count
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, months.monthrange(year, month)[1]))


def next_sweep_due(
    *, last_swept: date | None, cadence_months: int, counted_from: date | None
) -> date | None:
    """The day by which the township's next sweep is due: a cadence after its last sweep; for
    a township never swept, a cadence after the day the district began counting (None: not
    counted, the district has set no such day)."""
    since = last_swept or counted_from
    return add_months(since, cadence_months) if since else None


def sweep_overdue(due: date | None, *, today: date) -> bool:
    return due is not None and due < today


class SweepFacts(NamedTuple):
    township: str
    swept_on: date
    families: int


@dataclass
class SweepCompliance:
    """A township's sweeps (摸底排查) in the period and whether its next one is overdue."""

    township: str | None
    township_name: str
    sweeps: int = 0
    """Sweeps recorded in the period."""
    families_found: int = 0
    last_swept_on: date | None = None
    """Its last sweep, in or before the period (as of the report's day)."""
    next_due: date | None = None
    overdue: bool | None = None
    """Its next sweep past due on the report's day (the total: how many townships)."""
    overdue_townships: int | None = None


@dataclass
class SweepSection:
    cadence_months: int
    rows: list[SweepCompliance] = field(default_factory=list)
    total: SweepCompliance = field(default_factory=lambda: SweepCompliance(None, "合计"))


def sweep_compliance(
    sweeps: list[SweepFacts],
    *,
    townships: dict[str, str],
    first: date,
    last: date,
    as_of_day: date,
    cadence_months: int,
    counted_from: date | None,
) -> SweepSection:
    """Every township of ``townships`` (code → name) counted: its sweeps in the period, the
    families they found, its last sweep by the report's day, and whether the next is overdue."""
    section = SweepSection(cadence_months)
    overdue = 0
    for code, name in sorted(townships.items()):
        row = SweepCompliance(code, name)
        mine = [s for s in sweeps if s.township == code and s.swept_on <= as_of_day]
        within = [s for s in mine if first <= s.swept_on <= last]
        row.sweeps, row.families_found = len(within), sum(s.families for s in within)
        row.last_swept_on = max((s.swept_on for s in mine), default=None)
        row.next_due = next_sweep_due(
            last_swept=row.last_swept_on, cadence_months=cadence_months, counted_from=counted_from
        )
        row.overdue = sweep_overdue(row.next_due, today=as_of_day)
        overdue += row.overdue
        section.rows.append(row)
        section.total.sweeps += row.sweeps
        section.total.families_found += row.families_found
    section.total.overdue_townships = overdue
    return section
