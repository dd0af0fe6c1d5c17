"""How long the deadline-compliance report (/audit/compliance) and the supervisors' list of
cases not moving (/supervision/stuck) take on a district's year.

Seeds a fresh database with N case records (about 70% applications, 30% emergencies, spread
over 2025 and the end of 2024: stages, 补正 pauses, extensions, late decisions and payments,
about one in ten still open) and the reserve ledger their payments make, by bulk inserts (no
workflows), then times the report (reading and counting, as the route does) for the whole
district and the year 2025, the stuck list for the whole district, and the case figures a
/metrics scrape counts.

    .venv/bin/python bench/audit.py [--cases 100000] [--repeat 20] [--database-url URL]

SQLite in a temporary directory by default. ``--database-url`` names a PostgreSQL server
(``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``): a fresh database is created on
it and dropped afterwards. Target: p99 under one second for 100,000 cases.
"""

import argparse
import random
import shlex
import statistics
import sys
import tempfile
import time
import uuid
from bisect import bisect_left
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, make_url, update

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from domain.calendar import SHANGHAI, local_date  # noqa: E402
from domain.cases import Actor, Role  # noqa: E402
from domain.policy import Policy  # noqa: E402
from domain.supervision import Thresholds  # noqa: E402
from domain.townships import DISTRICT_CODE, SEED_TOWNSHIPS  # noqa: E402
from services.compliance import build_report  # noqa: E402
from services.supervision import stuck_rows  # noqa: E402
from store.calendar import load_calendar  # noqa: E402
from store.db import get_engine, session_scope  # noqa: E402
from store.figures import district_figures  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.tables import CaseRecord, EmergencyRecord, ReserveEntry, TownshipReserve  # noqa: E402

YEAR_START, YEAR_END = date(2025, 1, 1), date(2025, 12, 31)
NOW = datetime(2026, 1, 15, 10, tzinfo=UTC)
"""The report is made in January, after the year it covers."""
AUDITOR = Actor(user_id="bench", name="审计", role=Role.auditor, jurisdiction=DISTRICT_CODE)
SUPERVISOR = Actor(user_id="bench", name="督办", role=Role.supervisor, jurisdiction=DISTRICT_CODE)
MINIMUM_FEN = 5_000_000


class WorkingDays:
    """The calendar's working days in order: the n-th after a date, by one lookup."""

    def __init__(self, calendar, first: date, last: date) -> None:
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        self.days = [d for d in days if calendar.is_working_day(d)]

    def after(self, day: date, n: int) -> date:
        return self.days[bisect_left(self.days, day + timedelta(days=1)) + n - 1]


def moment(day: date, rng: random.Random) -> datetime:
    """Office hours in Asia/Shanghai, stored in UTC."""
    at = datetime(day.year, day.month, day.day, 8, tzinfo=SHANGHAI)
    return (at + timedelta(minutes=rng.randrange(9 * 60))).astimezone(UTC)


def places(rng: random.Random) -> tuple[str, str]:
    township = rng.choice(SEED_TOWNSHIPS)
    return township.code, rng.choice(township.villages).code


def common(n: int, rng: random.Random) -> dict:
    township, village = places(rng)
    return {
        "case_no": f"{DISTRICT_CODE}-B-{n:07d}",
        "township": township,
        "village": village,
        "channel": "walk_in",
        "applicant_name": "张三",
        "applicant_id_number": f"370305{n:012d}",
        "household_size": rng.randint(1, 5),
        "assignee": "u-assistant",
        "view": "{}",
        # As wide as a real row: its view (~1.2 KB) and sealed intake (~2.1 KB) are read by no
        # query timed here, but a query that scans the table reads past them.
        "start": "s" * 3300,
    }


def application(n: int, rng: random.Random, days: WorkingDays) -> dict:
    accepted_on = YEAR_START + timedelta(days=rng.randrange(-90, 365))
    accepted_at = moment(accepted_on, rng)
    paused = rng.randint(3, 15) if rng.random() < 0.15 else 0
    extended = rng.randint(5, 10) if rng.random() < 0.03 else 0
    survey_due = days.after(accepted_on, 3)
    row = common(n, rng) | {
        "assistance_type": rng.choices(["dibao", "tekun", "temporary"], [60, 15, 25])[0],
        "accepted_at": accepted_at,
        "survey_due": survey_due,
        "visited_on": None,
        "decision_due": days.after(accepted_on, 20 + paused + extended),
        "original_decision_due": days.after(accepted_on, 20),
        "paused_working_days": paused,
        "extended_working_days": extended,
        "stage_since": accepted_at,
        "decided_at": None,
        "closed_at": None,
        "first_payment_at": None,
        "refusal_notice_due": None,
        "refusal_notified_at": None,
        "longest_stage": rng.choices(["survey", "review", "notice", "decision"], [40, 15, 30, 15])[
            0
        ],
        "provisional": False,
    }
    if rng.random() < 0.9:  # visited, mostly in time
        row["visited_on"] = days.after(
            accepted_on, rng.choices([1, 2, 3, 5, 8], [30, 30, 30, 7, 3])[0]
        )
    # Working days to the decision: mostly in time, a tail of late ones
    took = rng.choice([rng.randint(6, 20)] * 8 + [rng.randint(21, 35)]) + paused
    decided_on = days.after(accepted_on, took)
    roll = rng.random()
    if decided_on > YEAR_END + timedelta(days=10) or roll < 0.1:  # still open
        row["stage"] = rng.choice(["survey", "review", "notice", "decision", "awaiting_documents"])
    elif roll < 0.15:
        row["stage"] = "withdrawn"
        row["closed_at"] = moment(decided_on, rng)
    else:
        row["stage"] = "approved" if roll < 0.8 else "refused"
        row["decided_at"] = row["closed_at"] = moment(decided_on, rng)
        if row["stage"] == "approved":  # paid within the hour
            row["first_payment_at"] = row["decided_at"] + timedelta(minutes=30)
        if row["stage"] == "refused":
            row["refusal_notice_due"] = days.after(decided_on, 3)
            sent = decided_on + timedelta(days=rng.choice([0, 0, 0, 1, 2, 6]))
            row["refusal_notified_at"] = moment(sent, rng)
    return row


def emergency(n: int, rng: random.Random, days: WorkingDays) -> dict:
    requested_at = moment(YEAR_START + timedelta(days=rng.randrange(-30, 365)), rng)
    hours = rng.choices([rng.uniform(0.5, 20), rng.uniform(24, 60), None], [88, 9, 3])[0]
    row = common(n, rng) | {
        "cause": rng.choice(["fire", "accident", "disaster", "sudden_hardship", "major_illness"]),
        "requested_at": requested_at,
        "pay_by": requested_at + timedelta(hours=24),
        "requested_amount": "2000",
        "paid_at": None,
        "follow_up_due": None,
        "reviewed_at": None,
        "closed_at": None,
        "stage_since": requested_at,
        "longest_stage": "paid",
    }
    if rng.random() < 0.05:
        row["stage"], row["closed_at"] = "rejected", requested_at + timedelta(hours=5)
    elif hours is None:
        row["stage"] = "awaiting_approval"
    else:
        paid_at = requested_at + timedelta(hours=hours)
        due = days.after(local_date(paid_at), 10)
        row |= {"paid_at": paid_at, "follow_up_due": due, "approved_amount": "2000"}
        reviewed = local_date(paid_at) + timedelta(days=rng.choice([3, 5, 8, 12, 20]))
        if rng.random() < 0.85:
            row["reviewed_at"] = moment(reviewed, rng)
            row["stage"], row["closed_at"] = "closed", moment(reviewed + timedelta(days=2), rng)
        else:
            row["stage"] = "paid"
    return row


def ledger(emergencies: list[dict], rng: random.Random) -> tuple[list[dict], dict[str, int]]:
    """Each payment's hold and settlement, in order per township. The district tops a reserve
    up by ¥100,000 once it is under ¥60,000, at once half the time: now and then a run of
    payments takes it below its minimum first. The final balances."""
    balance = {t.code: MINIMUM_FEN for t in SEED_TOWNSHIPS}
    entries: list[dict] = []
    paid = sorted((e for e in emergencies if e["paid_at"]), key=lambda e: e["paid_at"])
    for e in paid:
        township, amount, at = e["township"], 200_000, e["paid_at"]
        if balance[township] < 6_000_000 and rng.random() < 0.5:
            balance[township] += 10_000_000
            entries.append(entry(township, "top_up", 10_000_000, at, balance[township], 0))
        entries.append(entry(township, "hold", amount, at, balance[township], amount, e))
        balance[township] -= amount
        entries.append(entry(township, "settle", amount, at, balance[township], 0, e))
    return entries, balance


def entry(township, kind, amount, at, after, held, case=None) -> dict:
    key = f"bench:{uuid.uuid4().hex}"
    return {
        "key": key,
        "township": township,
        "kind": kind,
        "amount_fen": amount,
        "case_no": case["case_no"] if case else None,
        "closes": None,
        "note": "",
        "by_user": "bench",
        "at": at,
        "balance_after_fen": after,
        "held_after_fen": held,
    }


def seed(url: str, cases: int, rng: random.Random, *, shape=None) -> None:
    """N case records and their ledger; ``shape(row, kind)`` finishes each row first (the
    console's bench gives each the view its pages read)."""
    upgrade(url)
    with session_scope(url) as session:
        days = WorkingDays(load_calendar(session), date(2024, 9, 1), date(2026, 12, 31))
    n_emergencies = cases * 3 // 10
    applications = [application(n, rng, days) for n in range(cases - n_emergencies)]
    emergencies = [emergency(n, rng, days) for n in range(cases - n_emergencies, cases)]
    entries, balances = ledger(emergencies, rng)
    if shape is not None:
        applications = [shape(row, "application") for row in applications]
        emergencies = [shape(row, "emergency") for row in emergencies]
    with session_scope(url, writes=True) as session:
        for table, rows in (
            (CaseRecord, applications),
            (EmergencyRecord, emergencies),
            (ReserveEntry, entries),
        ):
            for chunk in range(0, len(rows), 5000):
                session.execute(insert(table), rows[chunk : chunk + 5000])
        # The migration's opening entries, dated before the cases rather than today.
        session.execute(
            update(ReserveEntry)
            .where(ReserveEntry.key.like("seed:%"))
            .values(at=datetime(2024, 1, 2, tzinfo=UTC))
        )
        for township, fen in balances.items():
            session.execute(
                update(TownshipReserve)
                .where(TownshipReserve.township == township)
                .values(balance_fen=fen)
            )
    print(
        f"seeded {len(applications):,} applications, {len(emergencies):,} emergencies, "
        f"{len(entries):,} ledger entries"
    )


def time_report(url: str, repeat: int) -> list[float]:
    timings = []
    for n in range(repeat + 1):
        began = time.perf_counter()
        with session_scope(url) as session:
            report = build_report(
                session, user=AUDITOR, first=YEAR_START, last=YEAR_END, now=NOW, policy=Policy()
            )
        if n:  # the first call warms the caches
            timings.append(time.perf_counter() - began)
    total = report.applications.total
    print(
        f"report: {total.decided:,} decisions ({total.on_time_share:.1%} on time, "
        f"{total.breaches:,} breaches), {report.emergencies.total.requested:,} emergencies, "
        f"{sum(r.days_below_minimum for r in report.reserves)} township-days below the minimum"
    )
    return timings


def time_stuck(url: str, repeat: int) -> list[float]:
    timings = []
    for n in range(repeat + 1):
        began = time.perf_counter()
        with session_scope(url) as session:
            rows = stuck_rows(
                session, user=SUPERVISOR, township=None, kind=None, thresholds=Thresholds()
            )
        if n:
            timings.append(time.perf_counter() - began)
    print(f"stuck: {len({r.case_no for r in rows}):,} open cases not moving, {len(rows):,} reasons")
    return timings


def time_figures(url: str, repeat: int) -> list[float]:
    timings = []
    for n in range(repeat + 1):
        began = time.perf_counter()
        with session_scope(url) as session:
            figures = district_figures(session)
        if n:
            timings.append(time.perf_counter() - began)
    print(f"figures: {sum(figures.cases.values()):,} cases counted by kind, stage and township")
    return timings


def summary(name: str, url: str, cases: int, timings: list[float]) -> None:
    timings = sorted(timings)
    p50 = statistics.median(timings)
    p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
    database = make_url(url).get_backend_name()
    print(
        f"{database}: {name}, {cases:,} cases, whole district, {len(timings)} calls: "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
        f"({'within' if p99 < 1 else 'OVER'} the 1 s target)"
    )


def fresh_postgres(server: str) -> tuple[str, str]:
    """A new database on the server: its URL, and its name (to drop afterwards)."""
    name = f"jiuzhu_bench_{uuid.uuid4().hex[:8]}"
    with get_engine(server).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    return make_url(server).set(database=name).render_as_string(hide_password=False), name


def drop_postgres(server: str, name: str, url: str) -> None:
    get_engine(url).dispose()
    with get_engine(server).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", help="a PostgreSQL server (a fresh database is made)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="jiuzhu-bench-") as tmp:
        if args.database_url:
            url, name = fresh_postgres(args.database_url)
        else:
            url, name = f"sqlite:///{tmp}/jiuzhu.db", None
        try:
            seed(url, args.cases, rng)
            report = time_report(url, args.repeat)
            stuck = time_stuck(url, args.repeat)
            figures = time_figures(url, args.repeat)
        finally:
            if name:
                drop_postgres(args.database_url, name, url)
    summary(f"compliance report for {YEAR_START.year}", url, args.cases, report)
    summary("stuck list", url, args.cases, stuck)
    summary("/metrics case figures", url, args.cases, figures)
    print("reproduce:", shlex.join([".venv/bin/python", "bench/audit.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
