"""Whether the deadlines were kept, for any period and township: the counting is
``domain.compliance``'s, the reading ``store.compliance``'s; what each number means is in
``domain.compliance``."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlmodel import Session

from domain.cases import Actor
from domain.compliance import (
    ComplianceReport,
    Period,
    compliance_report,
    referral_compliance,
    review_compliance,
    share,
)
from domain.errors import InvalidData
from domain.policy import Policy
from domain.sweeps import sweep_compliance
from store.calendar import load_calendar
from store.compliance import (
    application_facts,
    care_facts,
    emergency_facts,
    referral_facts,
    reserve_facts,
    review_facts,
    township_names,
)
from store.db import Database
from store.sweeps import sweep_facts

EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
MAX_SPAN_DAYS = 3 * 366
"""A report covers at most about three years: enough for any audit, bounded in cost."""

Kind = Literal["application", "emergency", "review", "care", "referral", "sweep"]
"""``review``, ``care`` (the centralised care of 特困 recipients), ``referral`` (部门转介): that
part alone; every part
when no kind is named."""


async def report(
    *,
    db: Database,
    user: Actor,
    first: date,
    last: date,
    now: datetime,
    policy: Policy,
    township: str | None = None,
    assistance_type: str | None = None,
    kind: Kind | None = None,
    trend: "list[MonthOnTime] | None" = None,
) -> ComplianceReport:
    """The report of the days ``first`` to ``last`` (Asia/Shanghai) as it stands at ``now``,
    of the user's jurisdiction (of one township, if named); ``assistance_type`` filters the
    applications only."""
    if not EARLIEST <= first <= LATEST:
        raise InvalidData("query.from", f"from must be between {EARLIEST} and {LATEST}")
    if not EARLIEST <= last <= LATEST:
        raise InvalidData("query.to", f"to must be between {EARLIEST} and {LATEST}")
    if last < first:
        raise InvalidData("query.to", "to must be on or after from")
    if (last - first).days > MAX_SPAN_DAYS:
        raise InvalidData("query.to", "a report covers at most three years")
    return await db.read(
        build_report,
        user=user,
        first=first,
        last=last,
        now=now,
        policy=policy,
        township=township,
        assistance_type=assistance_type,
        kind=kind,
        trend=trend,
    )


def build_report(
    session: Session,
    *,
    user: Actor,
    first: date,
    last: date,
    now: datetime,
    policy: Policy,
    township: str | None = None,
    assistance_type: str | None = None,
    kind: Kind | None = None,
    trend: "list[MonthOnTime] | None" = None,
) -> ComplianceReport:
    """Read and count, in one transaction: the report's work, and what the audit bench times.
    Given a ``trend`` list, the decisions on time month by month are added to it, counted
    in the same pass (the console's chart)."""
    period = Period(first, last, now)
    where = {"jurisdiction": user.jurisdiction, "township": township, "period": period}
    applications = emergencies = reserves = care = None
    by_day: dict[date, list[int]] | None = None if trend is None else {}
    if kind in (None, "application"):
        applications = application_facts(session, assistance_type=assistance_type, **where)
    if kind in (None, "emergency"):
        emergencies = emergency_facts(session, **where)
        reserves = reserve_facts(session, **where)
    if kind in (None, "care"):
        care = care_facts(session, **where)
    calendar = load_calendar(session)
    made = compliance_report(
        period=period,
        calendar=calendar,
        decision_working_days=policy.decision_working_days,
        applications=applications,
        emergencies=emergencies,
        reserves=reserves,
        names=(names := township_names(session)),
        care=care,
        care_target=policy.centralised_care_target,
        by_day=by_day,
    )
    if trend is not None and applications is not None:
        trend.extend(monthly_on_time(by_day, period=period))
    if kind in (None, "review"):
        reviews, unopened = review_facts(session, **where)
        made.reviews = review_compliance(reviews, unopened, period=period, names=names)
    if kind in (None, "referral"):
        made.referrals = referral_compliance(
            referral_facts(session, **where), period=period, names=names,
            calendar=calendar,
        )  # fmt: skip
    if kind in (None, "sweep"):
        swept, codes = sweep_facts(session, jurisdiction=user.jurisdiction, township=township,
                                   last=last)  # fmt: skip
        made.sweeps = sweep_compliance(
            swept, townships={c: names.get(c, "") for c in codes}, first=first, last=last,
            as_of_day=period.as_of_day, cadence_months=policy.sweep_cadence_months,
            counted_from=policy.sweeps_counted_from,
        )  # fmt: skip
    return made


@dataclass(frozen=True)
class MonthOnTime:
    """The decisions (审核确认) of one month of the period, and how many kept the time limit."""

    month: date
    """Its first day."""
    decided: int
    on_time: int
    on_time_excluding_pauses: int
    on_time_share: float | None
    on_time_share_excluding_pauses: float | None


def monthly_on_time(by_day: dict[date, list[int]], *, period: Period) -> list[MonthOnTime]:
    """Each month of the period (clipped to it), from the report's own count of its decisions
    day by day (``domain.compliance.application_compliance``'s ``by_day``), so that a month's
    figures add up to the report's."""
    by_month: dict[date, list[int]] = {}
    for day, counts in by_day.items():
        month = by_month.setdefault(day.replace(day=1), [0, 0, 0])
        for n, count in enumerate(counts):
            month[n] += count
    months = []
    first = period.first
    while first <= period.last:
        decided, on_time, net = by_month.get(first.replace(day=1), (0, 0, 0))
        months.append(
            MonthOnTime(
                month=first.replace(day=1), decided=decided, on_time=on_time,
                on_time_excluding_pauses=net, on_time_share=share(on_time, decided),
                on_time_share_excluding_pauses=share(net, decided),
            )
        )  # fmt: skip
        first = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    return months
