"""Deadline compliance (办理时限执行情况) for the overseeing office: whether the deadlines of the
applications and emergencies of a period were kept, per township and type, with totals.

Pure counting over case records already read (``store.compliance`` reads them). Working days
come from one cumulative count built per report over the dates needed, on the calendar the
workflows use, so each count is a subtraction, never a walk over the calendar per case.

Definitions (the report states them; see also ``ComplianceReport``):

- decisions: applications approved or refused with ``decided_at``'s Asia/Shanghai date in the
  period. Working days to decision count from the acceptance day (not counted); a decision on
  a rest day counts as given on the next working day, so "on time" here agrees with the
  workflow's own deadline. On time: within ``decision_working_days`` elapsed, or elapsed less
  the 补正 pauses; an extended case is never on time (the working days its extensions added
  are summed beside the count). A breach: beyond the limit after the
  pauses, whatever the extension; its cause is the stage that held it longest. By the strict
  date (审批期限应严格控制在20个工作日以内, ``strict_*``): within the limit counting from
  acceptance, pauses and extensions included; beyond it, a strict breach.
- surveys: visits (``visited_on``) in the period, on time when not after ``survey_due``.
- written refusals: of the refusals decided in the period, sent on or before
  ``refusal_notice_due``; one not sent is late once that day is over (as of ``now``), pending
  before.
- emergencies requested in the period: paid by ``pay_by`` (24 hours); unpaid past it is late
  (rejected and cancelled ones are not to be paid). Follow-ups of those paid: reviewed on or
  before ``follow_up_due``; not reviewed and past it, late.
- open and late: cases not closed at ``as_of`` (the end of the period, or now if sooner) and
  past their deadline then: an application past ``decision_due`` (not while paused for
  documents), an emergency unpaid past ``pay_by`` or not reviewed past ``follow_up_due``;
  apart, an application past its strict date (``open_past_strict_date``, paused or not). The
  records hold each case's deadlines as they stand now, not as they stood at ``as_of``.
- centralised care (集中供养率, seed §2): of the 特困 recipients in the register at ``as_of``
  (registered by then, not terminated now) whose self-care is partial (半失能) or none (失能),
  the share in centralised care, per township, against the target (60 % or more by default);
  those registered before self-care was recorded are counted apart (``unassessed``), not in
  the share. A township with no such recipient has no share and neither meets nor misses it.
- reserves: the days of the period (up to ``as_of``) on which a township's reserve balance was
  below its minimum at any moment: the ledger day by day (each day's lowest and closing
  balance) from the balance carried into the period. Before a township's first ledger entry
  its reserve is not counted.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

from domain.calendar import SHANGHAI, WorkingCalendar, WorkingDayIndex, end_of_day, local_date
from domain.cases import DECIDED_STAGES, OPEN_STAGES, Stage
from domain.emergency import EmergencyStage
from domain.reserve import to_yuan
from domain.sweeps import SweepSection

BREACH_STAGES = (*(s.value for s in OPEN_STAGES), "unknown")
"""The open stages of an application, in order: a breach's cause is one of them ("unknown":
a record that does not say)."""


def start_of_day(day: date) -> datetime:
    """The instant a date begins in Asia/Shanghai, in UTC."""
    return datetime.combine(day, time(), SHANGHAI).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    now: datetime
    """When the report is made: what has not happened by then has not happened."""

    @property
    def start(self) -> datetime:
        return start_of_day(self.first)

    @property
    def end(self) -> datetime:
        return end_of_day(self.last)

    @property
    def as_of(self) -> datetime:
        """The moment the open cases are counted at: the end of the period, or now if sooner."""
        return min(self.end, self.now)

    @property
    def as_of_day(self) -> date:
        """The last day the report covers: the period's, or today if sooner."""
        return min(self.last, local_date(self.now))

    @property
    def overdue_before(self) -> date:
        """A deadline on a day before this one had passed at ``as_of`` (its day had ended)."""
        return local_date(self.as_of)


# ---- what the store reads: one tuple per record, only the columns the counts need ----------
# Deadlines are days, so each moment a count compares with one is given as its Asia/Shanghai
# date (``*_on``); only the 24 hours of an emergency are counted in moments.


class ApplicationFacts(NamedTuple):
    township: str
    assistance_type: str
    stage: str
    accepted_on: date
    decided_on: date | None
    closed_on: date | None
    paused_since_on: date | None
    """For a case waiting for documents (补正): the day its wait began (None for the others,
    and where it was not recorded)."""
    survey_due: date
    visited_on: date | None
    decision_due: date
    refusal_notice_due: date | None
    refusal_notified_on: date | None
    paused_working_days: int
    extended_working_days: int
    longest_stage: str | None
    provisional: bool


class EmergencyFacts(NamedTuple):
    township: str
    cause: str
    stage: str
    requested_at: datetime
    pay_by: datetime
    paid_at: datetime | None
    follow_up_due: date | None
    reviewed_on: date | None
    closed_on: date | None


@dataclass(frozen=True)
class ReserveFacts:
    """A township's reserve: its ledger in the period up to ``as_of`` as a daily statement,
    and the balance carried into it (None: the reserve has no entry before the period)."""

    township: str
    minimum_fen: int
    opening_fen: int | None
    days: list[tuple[date, int, int]]
    """(day, lowest balance, closing balance) of each day with entries that moved the
    balance, in order."""


class CareFacts(NamedTuple):
    """特困 recipients of a township with one care form and self-care ability: how many."""

    township: str
    care_form: str | None
    self_care: str | None
    recipients: int


# ---- what the report says ------------------------------------------------------------------


@dataclass
class ApplicationCompliance:
    """Applications of one township and assistance type (both None: the totals)."""

    township: str | None
    township_name: str | None
    assistance_type: str | None
    decided: int = 0
    approved: int = 0
    refused: int = 0
    on_time: int = 0
    """Decided within the limit counting from acceptance, 补正 pauses included; not extended."""
    on_time_share: float | None = None
    on_time_excluding_pauses: int = 0
    """Decided within the limit once the 补正 pauses are taken off; not extended."""
    on_time_share_excluding_pauses: float | None = None
    extended: int = 0
    """Given more time by a supervisor or a district officer: never counted as on time."""
    extended_working_days: int = 0
    """The working days those extensions added, in all."""
    paused: int = 0
    """Decided cases that waited for documents (补正)."""
    paused_working_days: int = 0
    working_days_median: float | None = None
    working_days_p90: float | None = None
    working_days_excluding_pauses_median: float | None = None
    working_days_excluding_pauses_p90: float | None = None
    breaches: int = 0
    """Decided beyond the limit after the pauses, extensions not counting."""
    strict_on_time: int = 0
    """By the strict date (审批期限应严格控制在20个工作日以内): decided within the limit counting
    from acceptance, whatever the pauses and the extensions."""
    strict_on_time_share: float | None = None
    strict_breaches: int = 0
    """Decided beyond the strict date: pauses and extensions do not excuse it."""
    breaches_by_longest_stage: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(BREACH_STAGES, 0)
    )
    """Each breach under the stage that held its case longest."""
    surveys: int = 0
    surveys_on_time: int = 0
    surveys_on_time_share: float | None = None
    refusal_notices: int = 0
    """Written refusals due (sent, or not sent and past their day)."""
    refusal_notices_on_time: int = 0
    refusal_notices_late: int = 0
    refusal_notices_on_time_share: float | None = None
    open: int = 0
    open_late: int = 0
    open_past_strict_date: int = 0
    """Open at ``as_of`` past the strict date (paused or not)."""


@dataclass
class EmergencyCompliance:
    """Emergencies of one township and cause (both None: the totals)."""

    township: str | None
    township_name: str | None
    cause: str | None
    requested: int = 0
    paid: int = 0
    paid_on_time: int = 0
    paid_late: int = 0
    unpaid_late: int = 0
    """Not paid, past ``pay_by``: late, whatever comes later."""
    awaiting_payment: int = 0
    """Not paid, still within the hours."""
    rejected: int = 0
    cancelled: int = 0
    paid_on_time_share: float | None = None
    """paid_on_time / (paid_on_time + paid_late + unpaid_late)."""
    hours_to_payment_median: float | None = None
    hours_to_payment_p90: float | None = None
    follow_ups_due: int = 0
    follow_ups_on_time: int = 0
    follow_ups_late: int = 0
    follow_ups_on_time_share: float | None = None
    open: int = 0
    open_late: int = 0


@dataclass
class ReserveCompliance:
    township: str
    township_name: str | None
    minimum: Decimal
    opening_balance: Decimal | None
    """Carried into the period (None: the reserve began within it, or after)."""
    lowest_balance: Decimal | None
    days_below_minimum: int
    dates_below_minimum: list[date]


@dataclass
class CentralisedCare:
    """特困 recipients of one township (None: the totals) and their care."""

    township: str | None
    township_name: str | None
    recipients: int = 0
    """特困 recipients in the register."""
    needing_care: int = 0
    """Of them, with partial (半失能) or no (失能) self-care."""
    centralised: int = 0
    """Of those, in centralised care (集中供养)."""
    centralised_share: float | None = None
    """centralised / needing_care."""
    target: float = 0.6
    meets_target: bool | None = None
    """The share is at or above the target (None: no one needs care)."""
    unassessed: int = 0
    """Registered before the self-care ability was recorded: not in the share."""


@dataclass
class CentralisedCareSection:
    rows: list[CentralisedCare]
    total: CentralisedCare


@dataclass
class ApplicationSection:
    rows: list[ApplicationCompliance]
    total: ApplicationCompliance


@dataclass
class EmergencySection:
    rows: list[EmergencyCompliance]
    total: EmergencyCompliance


@dataclass
class CalendarUse:
    provisional: bool
    """A count touched a year whose holidays are not published (weekdays only), or a case's
    own deadlines were counted so."""
    unpublished_years: list[int]


@dataclass
class ComplianceReport:
    period_start: date
    period_end: date
    as_of: datetime
    decision_working_days: int
    calendar: CalendarUse
    applications: ApplicationSection | None
    emergencies: EmergencySection | None
    reserves: list[ReserveCompliance] | None
    centralised_care: CentralisedCareSection | None = None
    """特困 with partial or no self-care in centralised care, per township (seed §2)."""
    reviews: "ReviewSection | None" = None
    """Reviews of recipient households (``domain.review_compliance``)."""
    referrals: "ReferralSection | None" = None
    """Referrals from other departments (``domain.referral_compliance``)."""
    sweeps: "SweepSection | None" = None
    """Each township's sweeps of its villages (摸底排查, ``domain.sweeps.sweep_compliance``)."""


# ---- counting ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0..1), interpolating between the closest ranks; None when empty."""
    return _quantile(sorted(values), q)


def median_and_p90(values: Sequence[float]) -> tuple[float | None, float | None]:
    ordered = sorted(values)
    return _quantile(ordered, 0.5), _quantile(ordered, 0.9)


def _quantile(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 2)


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


ONE_DAY = timedelta(days=1)
INDEX_BEFORE = timedelta(days=2 * 366)
"""How far before the period the working-day index starts; an older case widens it."""


def working_days_to_decision(index: WorkingDayIndex, accepted: date, decided: date) -> int:
    """The working day after acceptance on which the decision fell; a decision on a rest day
    counts as the next working day's, as a deadline ending that working day would."""
    if decided <= accepted:
        return 0
    return index.between(accepted, decided - ONE_DAY) + 1


class _Spread:
    """The values behind a row's medians and 90th percentiles."""

    def __init__(self) -> None:
        self.elapsed: list[int] = []
        self.net: list[int] = []
        self.hours: list[float] = []

    def extend(self, other: "_Spread") -> None:
        self.elapsed += other.elapsed
        self.net += other.net
        self.hours += other.hours


def application_compliance(
    records: Iterable[ApplicationFacts],
    *,
    period: Period,
    calendar: WorkingCalendar,
    decision_working_days: int,
    names: dict[str, str],
    by_day: dict[date, list[int]] | None = None,
) -> tuple[ApplicationSection, CalendarUse]:
    """The applications' rows (township × assistance type) and totals, and the calendar's use.
    Given ``by_day``, each decision is counted in its day's too (decided, on time, on time
    excluding pauses), in the same pass."""
    first, last, as_of_day = period.first, period.last, period.as_of_day
    today, overdue_before = local_date(period.now), period.overdue_before
    limit = decision_working_days
    index_start = first - INDEX_BEFORE
    index = WorkingDayIndex.over(calendar, index_start, last)
    spans: set[tuple[int, int]] = set()
    provisional = False
    rows: dict[tuple[str, str], tuple[ApplicationCompliance, _Spread]] = {}

    for r in records:
        decided = (
            r.decided_on is not None and first <= r.decided_on <= last and r.stage in DECIDED_STAGES
        )
        surveyed = r.visited_on is not None and first <= r.visited_on <= last
        is_open = r.accepted_on <= as_of_day and (r.closed_on is None or r.closed_on > as_of_day)
        if not (decided or surveyed or is_open):
            continue
        key = (r.township, r.assistance_type)
        if key not in rows:
            new = ApplicationCompliance(r.township, names.get(r.township), r.assistance_type)
            rows[key] = (new, _Spread())
        row, spread = rows[key]
        provisional |= r.provisional
        if decided:
            if r.accepted_on < index_start:  # accepted long before the period: widen the index
                index_start = r.accepted_on
                index = WorkingDayIndex.over(calendar, index_start, last)
            spans.add((r.accepted_on.year, r.decided_on.year))
            elapsed = working_days_to_decision(index, r.accepted_on, r.decided_on)
            net = elapsed - r.paused_working_days
            spread.elapsed.append(elapsed)
            spread.net.append(net)
            row.decided += 1
            if r.stage == Stage.approved:
                row.approved += 1
            else:
                row.refused += 1
                _refusal_notice(row, r, today)
            if r.paused_working_days:
                row.paused += 1
                row.paused_working_days += r.paused_working_days
            if r.extended_working_days:
                row.extended += 1
                row.extended_working_days += r.extended_working_days
            else:
                row.on_time += elapsed <= limit
                row.on_time_excluding_pauses += net <= limit
            if by_day is not None:
                day = by_day.setdefault(r.decided_on, [0, 0, 0])
                day[0] += 1
                if not r.extended_working_days:
                    day[1] += elapsed <= limit
                    day[2] += net <= limit
            row.strict_on_time += elapsed <= limit
            row.strict_breaches += elapsed > limit
            if net > limit:
                row.breaches += 1
                stage = r.longest_stage if r.longest_stage in BREACH_STAGES else "unknown"
                row.breaches_by_longest_stage[stage] += 1
        if surveyed:
            row.surveys += 1
            row.surveys_on_time += r.visited_on <= r.survey_due
        if is_open:
            row.open += 1
            paused = r.stage == Stage.awaiting_documents and (
                r.paused_since_on is None or r.paused_since_on <= as_of_day
            )
            row.open_late += not paused and r.decision_due < overdue_before
            if r.accepted_on < index_start:
                index_start = r.accepted_on
                index = WorkingDayIndex.over(calendar, index_start, last)
            strict = index.between(r.accepted_on, overdue_before - ONE_DAY) >= limit
            row.open_past_strict_date += strict

    years = {y for a, d in spans for y in range(a, d + 1)}
    unpublished = sorted(y for y in years if not calendar.is_published(y))
    ordered = [rows[k] for k in sorted(rows)]
    total = _application_total(ordered)
    for row, spread in ordered:
        _finish_application(row, spread)
    section = ApplicationSection(rows=[row for row, _ in ordered], total=total)
    return section, CalendarUse(provisional or bool(unpublished), unpublished)


def _refusal_notice(row: ApplicationCompliance, r: ApplicationFacts, today: date) -> None:
    due = r.refusal_notice_due
    if r.refusal_notified_on is not None:
        row.refusal_notices += 1
        if due is None or r.refusal_notified_on <= due:
            row.refusal_notices_on_time += 1
        else:
            row.refusal_notices_late += 1
    elif due is not None and today > due:
        row.refusal_notices += 1
        row.refusal_notices_late += 1


def _finish_application(row: ApplicationCompliance, spread: _Spread) -> None:
    row.on_time_share = share(row.on_time, row.decided)
    row.on_time_share_excluding_pauses = share(row.on_time_excluding_pauses, row.decided)
    row.strict_on_time_share = share(row.strict_on_time, row.decided)
    row.working_days_median, row.working_days_p90 = median_and_p90(spread.elapsed)
    (
        row.working_days_excluding_pauses_median,
        row.working_days_excluding_pauses_p90,
    ) = median_and_p90(spread.net)
    row.surveys_on_time_share = share(row.surveys_on_time, row.surveys)
    row.refusal_notices_on_time_share = share(row.refusal_notices_on_time, row.refusal_notices)


def _application_total(
    rows: list[tuple[ApplicationCompliance, _Spread]],
) -> ApplicationCompliance:
    total = ApplicationCompliance(None, None, None)
    _add_counts(total, [row for row, _ in rows])
    merged = _Spread()
    for row, spread in rows:
        for stage, n in row.breaches_by_longest_stage.items():
            total.breaches_by_longest_stage[stage] += n
        merged.extend(spread)
    _finish_application(total, merged)
    return total


def emergency_compliance(
    records: Iterable[EmergencyFacts], *, period: Period, names: dict[str, str]
) -> EmergencySection:
    """The emergencies' rows (township × cause) and totals."""
    start, end, now, as_of = period.start, period.end, period.now, period.as_of
    today, as_of_day, overdue_before = local_date(now), period.as_of_day, period.overdue_before
    rows: dict[tuple[str, str], tuple[EmergencyCompliance, _Spread]] = {}
    for r in records:
        requested = start <= r.requested_at < end
        is_open = r.requested_at < as_of and (r.closed_on is None or r.closed_on > as_of_day)
        if not (requested or is_open):
            continue
        key = (r.township, r.cause)
        if key not in rows:
            rows[key] = (EmergencyCompliance(r.township, names.get(r.township), r.cause), _Spread())
        row, spread = rows[key]
        if requested:
            row.requested += 1
            if r.paid_at is not None:
                row.paid += 1
                spread.hours.append((r.paid_at - r.requested_at).total_seconds() / 3600)
                if r.paid_at <= r.pay_by:
                    row.paid_on_time += 1
                else:
                    row.paid_late += 1
            elif r.stage == EmergencyStage.rejected:
                row.rejected += 1
            elif r.stage == EmergencyStage.cancelled:
                row.cancelled += 1
            elif r.pay_by < now:
                row.unpaid_late += 1
            else:
                row.awaiting_payment += 1
            if r.follow_up_due is not None:
                if r.reviewed_on is not None:
                    row.follow_ups_due += 1
                    if r.reviewed_on <= r.follow_up_due:
                        row.follow_ups_on_time += 1
                    else:
                        row.follow_ups_late += 1
                elif today > r.follow_up_due:
                    row.follow_ups_due += 1
                    row.follow_ups_late += 1
        if is_open:
            row.open += 1
            unpaid_late = (r.paid_at is None or r.paid_at > as_of) and r.pay_by < as_of
            unreviewed_late = (
                r.follow_up_due is not None
                and r.follow_up_due < overdue_before
                and (r.reviewed_on is None or r.reviewed_on > as_of_day)
            )
            row.open_late += unpaid_late or unreviewed_late

    ordered = [rows[k] for k in sorted(rows)]
    total = EmergencyCompliance(None, None, None)
    _add_counts(total, [row for row, _ in ordered])
    merged = _Spread()
    for row, spread in ordered:
        _finish_emergency(row, spread)
        merged.extend(spread)
    _finish_emergency(total, merged)
    return EmergencySection(rows=[row for row, _ in ordered], total=total)


def _finish_emergency(row: EmergencyCompliance, spread: _Spread) -> None:
    late = row.paid_late + row.unpaid_late
    row.paid_on_time_share = share(row.paid_on_time, row.paid_on_time + late)
    row.hours_to_payment_median, row.hours_to_payment_p90 = median_and_p90(spread.hours)
    row.follow_ups_on_time_share = share(row.follow_ups_on_time, row.follow_ups_due)


def _add_counts(
    total: ApplicationCompliance | EmergencyCompliance,
    rows: list[ApplicationCompliance] | list[EmergencyCompliance],
) -> None:
    """Sum the whole-number columns of the rows into the totals row."""
    for f in fields(total):
        if f.type is int:
            setattr(total, f.name, sum(getattr(row, f.name) for row in rows))


def reserve_compliance(
    reserve: ReserveFacts, *, period: Period, names: dict[str, str]
) -> ReserveCompliance:
    """The days of the period (to ``as_of``) on which the reserve was below its minimum at
    any moment: from the day it went below (or the first, if it began the period below) to
    the day it closed at or above it again."""
    first, last = period.first, period.as_of_day
    minimum, opening = reserve.minimum_fen, reserve.opening_fen
    below: set[date] = set()
    since = first if opening is not None and opening < minimum else None
    lowest = opening
    for day, day_lowest, closing in reserve.days:
        if day > last:
            break
        day = max(day, first)
        if since is None and day_lowest < minimum:
            since = day
        if since is not None and closing >= minimum:
            below.update(_days(since, day))
            since = None
        lowest = day_lowest if lowest is None else min(lowest, day_lowest)
    if since is not None:
        below.update(_days(since, last))
    days = sorted(below)
    return ReserveCompliance(
        township=reserve.township,
        township_name=names.get(reserve.township),
        minimum=to_yuan(minimum),
        opening_balance=None if reserve.opening_fen is None else to_yuan(reserve.opening_fen),
        lowest_balance=None if lowest is None else to_yuan(lowest),
        days_below_minimum=len(days),
        dates_below_minimum=days,
    )


def centralised_care(
    facts: Iterable[CareFacts], *, target: Decimal, names: dict[str, str]
) -> CentralisedCareSection:
    """The share of 特困 recipients with partial or no self-care in centralised care, per
    township and in all, against ``target``."""
    rows: dict[str, CentralisedCare] = {}
    goal = float(target)
    for f in facts:
        row = rows.setdefault(
            f.township, CentralisedCare(f.township, names.get(f.township), target=goal)
        )
        row.recipients += f.recipients
        if f.self_care is None:
            row.unassessed += f.recipients
        elif f.self_care in ("partial", "none"):
            row.needing_care += f.recipients
            row.centralised += f.recipients if f.care_form == "centralised" else 0
    ordered = [rows[code] for code in sorted(rows)]
    total = CentralisedCare(None, None, target=goal)
    for name in ("recipients", "needing_care", "centralised", "unassessed"):
        setattr(total, name, sum(getattr(row, name) for row in ordered))
    for row in [*ordered, total]:
        row.centralised_share = share(row.centralised, row.needing_care)
        if row.centralised_share is not None:
            row.meets_target = row.centralised_share >= goal
    return CentralisedCareSection(rows=ordered, total=total)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def compliance_report(
    *,
    period: Period,
    calendar: WorkingCalendar,
    decision_working_days: int,
    applications: Iterable[ApplicationFacts] | None,
    emergencies: Iterable[EmergencyFacts] | None,
    reserves: Iterable[ReserveFacts] | None,
    names: dict[str, str],
    care: Iterable[CareFacts] | None = None,
    care_target: Decimal = Decimal("0.6"),
    by_day: dict[date, list[int]] | None = None,
) -> ComplianceReport:
    """The whole report; a kind given as None is left out of it (``by_day``:
    ``application_compliance``'s)."""
    section, use = None, CalendarUse(False, [])
    if applications is not None:
        section, use = application_compliance(
            applications,
            period=period,
            calendar=calendar,
            decision_working_days=decision_working_days,
            names=names,
            by_day=by_day,
        )
    return ComplianceReport(
        period_start=period.first,
        period_end=period.last,
        as_of=period.as_of,
        decision_working_days=decision_working_days,
        calendar=use,
        applications=section,
        emergencies=None
        if emergencies is None
        else emergency_compliance(emergencies, period=period, names=names),
        reserves=None
        if reserves is None
        else [reserve_compliance(r, period=period, names=names) for r in reserves],
        centralised_care=None
        if care is None
        else centralised_care(care, target=care_target, names=names),
    )


# ---- reviews of recipient households (动态管理) -----------------------------------------


class ReviewFacts(NamedTuple):
    township: str
    assistance_type: str
    due: date
    decided_on: date | None
    """The day of its decision (Asia/Shanghai), if decided."""


class UnopenedFacts(NamedTuple):
    """A household whose periodic review fell due and was not opened."""

    township: str
    assistance_type: str
    due: date


@dataclass
class ReviewCompliance:
    township: str | None
    township_name: str
    type: str | None
    due: int = 0
    """Reviews due in the period (opened ones)."""
    on_time: int = 0
    """Decided by their due date."""
    late: int = 0
    """Decided after it."""
    outstanding: int = 0
    """Not decided at the report's moment."""
    outstanding_late: int = 0
    """Of those, past their due date."""
    unopened: int = 0
    """Periodic reviews due in the period, past their date and never opened."""
    on_time_share: float | None = None


@dataclass
class ReviewSection:
    rows: list[ReviewCompliance] = field(default_factory=list)
    total: ReviewCompliance = field(default_factory=lambda: ReviewCompliance(None, "合计", None))


def review_compliance(
    reviews: Iterable[ReviewFacts],
    unopened: Iterable[UnopenedFacts],
    *,
    period: Period,
    names: dict[str, str],
) -> ReviewSection:
    """Each review due in the period counted once, in its township and type's row."""
    rows: dict[tuple[str, str], ReviewCompliance] = {}
    section = ReviewSection()

    def row(township: str, kind: str) -> ReviewCompliance:
        if (township, kind) not in rows:
            rows[township, kind] = ReviewCompliance(township, names.get(township, ""), kind)
        return rows[township, kind]

    today = period.overdue_before
    for r in reviews:
        if not period.first <= r.due <= period.last:
            continue
        decided = r.decided_on if r.decided_on and r.decided_on <= period.as_of_day else None
        for counted in (row(r.township, r.assistance_type), section.total):
            counted.due += 1
            if decided is None:
                counted.outstanding += 1
                counted.outstanding_late += r.due < today
            elif decided <= r.due:
                counted.on_time += 1
            else:
                counted.late += 1
    for u in unopened:
        if period.first <= u.due <= period.last and u.due < today:
            for counted in (row(u.township, u.assistance_type), section.total):
                counted.unopened += 1
    section.rows = [rows[k] for k in sorted(rows)]
    for counted in [*section.rows, section.total]:
        counted.on_time_share = share(counted.on_time, counted.due + counted.unopened)
    return section


# ---- referrals from other departments (部门转介) ---------------------------------------------


class ReferralFacts(NamedTuple):
    township: str
    situation: str
    received_on: date
    verify_by: date
    acted_on: date | None
    """The day its outcome was given (Asia/Shanghai), if it was."""


@dataclass
class ReferralCompliance:
    township: str | None
    township_name: str
    situation: str | None
    received: int = 0
    """Referrals received in the period."""
    on_time: int = 0
    """Acted on (an outcome) by their verification date."""
    late: int = 0
    """Acted on after it."""
    outstanding: int = 0
    """No outcome at the report's moment."""
    outstanding_late: int = 0
    """Of those, past their verification date."""
    median_working_days: float | None = None
    """From receipt to outcome, of those acted on."""
    on_time_share: float | None = None


@dataclass
class ReferralSection:
    rows: list[ReferralCompliance] = field(default_factory=list)
    total: ReferralCompliance = field(
        default_factory=lambda: ReferralCompliance(None, "合计", None)
    )


def referral_compliance(
    referrals: Iterable[ReferralFacts],
    *,
    period: Period,
    names: dict[str, str],
    calendar: WorkingCalendar,
) -> ReferralSection:
    """Each referral received in the period counted once, in its township and situation's
    row: acted on by its date or late, or outstanding; working days from receipt to outcome."""
    rows: dict[tuple[str, str], ReferralCompliance] = {}
    days: dict[tuple[str, str] | None, list[float]] = {}
    section = ReferralSection()
    today = period.overdue_before
    for r in referrals:
        if not period.first <= r.received_on <= period.last:
            continue
        key = (r.township, r.situation)
        if key not in rows:
            rows[key] = ReferralCompliance(r.township, names.get(r.township, ""), r.situation)
        acted = r.acted_on if r.acted_on and r.acted_on <= period.as_of_day else None
        for counted, at in ((rows[key], key), (section.total, None)):
            counted.received += 1
            if acted is None:
                counted.outstanding += 1
                counted.outstanding_late += r.verify_by < today
                continue
            counted.on_time += acted <= r.verify_by
            counted.late += acted > r.verify_by
            days.setdefault(at, []).append(calendar.working_days_between(r.received_on, acted))
    section.rows = [rows[k] for k in sorted(rows)]
    for key, counted in [*((k, rows[k]) for k in sorted(rows)), (None, section.total)]:
        counted.median_working_days = _quantile(sorted(days.get(key, [])), 0.5)
        counted.on_time_share = share(counted.on_time, counted.received)
    return section
