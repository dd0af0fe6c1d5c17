"""How long ``store.evidence.verify`` (behind ``GET /audit/verify``) takes on a large trail.

Fills a fresh database with chained audit entries (5 a case, the cases' steps interleaved
as they are written in life) and the cases' heads, seals them, then times ``verify`` over
repeated runs:

    .venv/bin/python bench/evidence.py [--entries 100000] [--runs 7] [--database-url URL]

SQLite in a temporary directory by default; ``--database-url`` names an empty database of
your own (``createdb -h 127.0.0.1 -U postgres jiuzhu_evidence`` and
``--database-url postgresql+psycopg://postgres@127.0.0.1/jiuzhu_evidence``).
"""

import argparse
import math
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent.parent))

from domain.compliance import percentile
from domain.evidence import GENESIS, entry_hash
from store.db import get_engine, session_scope
from store.evidence import seal, verify
from store.migrate import upgrade
from store.tables import AuditEntryRecord

STEPS = [  # (action, from_stage, to_stage, role, user, note)
    ("accepted", None, "survey", "township_assistant", "王助理", "失业，无稳定收入"),
    ("survey_recorded", "survey", "survey", "village_coordinator", "李协理", "两居室，无车辆"),
    ("verification_report_received", "survey", "review", "admin", "jiuzhu", ""),
    ("review_approve", "review", "notice", "township_assistant", "王助理", "家庭人均收入低于标准"),
    ("approved", "decision", "approved", "district_officer", "赵科长", "符合低保条件"),
]


def fill(url: str, entries: int) -> None:
    """``entries`` chained entries, in chunks of one INSERT each, step by step over all cases,
    and the cases' heads."""
    cases = math.ceil(entries / len(STEPS))
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    prev = [GENESIS] * cases
    table = AuditEntryRecord.__table__
    with get_engine(url).begin() as connection:
        for seq, (action, from_stage, to_stage, role, name, note) in enumerate(STEPS):
            rows = []
            for n in range(min(cases, entries - seq * cases)):
                content = {
                    "case_no": f"370305-2026-{n:06d}", "seq": seq,
                    "at": start + timedelta(days=seq, seconds=n), "user_id": f"u-{role}",
                    "user_name": name, "role": role, "action": action,
                    "from_stage": from_stage, "to_stage": to_stage, "note": note,
                }  # fmt: skip
                digest = entry_hash(content, prev[n])
                rows.append(content | {"prev_hash": prev[n], "hash": digest})
                prev[n] = digest
            for chunk in range(0, len(rows), 10_000):
                connection.execute(sa.insert(table), rows[chunk : chunk + 10_000])
        # Each case's head, as the records write it with each entry.
        connection.execute(
            sa.text(
                "INSERT INTO case_head (case_no, seq, hash, entry_id) "
                "SELECT a.case_no, a.seq, a.hash, a.id FROM audit_entry a WHERE a.seq = "
                "(SELECT max(b.seq) FROM audit_entry b WHERE b.case_no = a.case_no)"
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", help="an empty database (SQLite in a temp dir if not)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/evidence.db"
        upgrade(url)
        began = time.perf_counter()
        fill(url, args.entries)
        filled = time.perf_counter() - began
        began, seals = time.perf_counter(), 0
        while True:
            with session_scope(url, writes=True) as session:
                if seal(session, now=datetime.now(UTC), margin=timedelta(0)) is None:
                    break
            seals += 1
        sealed = time.perf_counter() - began

        timings = []
        for _ in range(args.runs):
            began = time.perf_counter()
            with session_scope(url) as session:
                verdict = verify(session)
            timings.append(time.perf_counter() - began)
            assert verdict.ok and verdict.entries == args.entries, verdict
        get_engine(url).dispose()

    # In ms: the percentile is kept to two decimals.
    ms = [t * 1000 for t in timings]
    p50, p99 = percentile(ms, 0.5) / 1000, percentile(ms, 0.99) / 1000
    print(f"database      {url.split(':')[0]}, Python {platform.python_version()}")
    print(f"entries       {verdict.entries:,} in {verdict.seals} seals")
    print(f"fill          {filled:.1f} s; sealing {sealed:.1f} s")
    print(f"verify        p50 {p50:.2f} s, p99 {p99:.2f} s over {args.runs} runs")
    print(f"              ({p50 / verdict.entries * 1e6:.1f} µs an entry at p50)")
    command = f".venv/bin/python bench/evidence.py --entries {args.entries} --runs {args.runs}"
    if args.database_url:
        command += f" --database-url {args.database_url}"
    print(f"reproduce     {command}")


if __name__ == "__main__":
    main()
