"""The reviews of a whole register measured (``make bench ARGS="--reviews 100000"``): N
recipient households seeded with their approving cases (rows as an approval writes them), their
periodic reviews due over the coming year (``--all-due``: all of them today), then one day's
round through the real stack — the Schedule's workflow on the worker opening every review due
within the opening window, each review's workflow started, its opening written and the platform
asked. Measured: the round's seconds, the reviews it opened, how many review workflows wait
(each with one timer), and the worker's resident memory before, at its peak and after: reviews
for the register must not make the worker grow with the register.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select

from bench.resources import memory_of
from domain.calendar import local_date
from domain.cases import (
    SYSTEM,
    Applicant,
    AssistanceType,
    AuditEntry,
    BankAccount,
    CaseStart,
    Channel,
    HouseholdMember,
    Stage,
    initial_view,
)
from domain.contracts import ReviewRound
from domain.deadlines import DeadlineFacts, compute_deadlines
from domain.identity import check_digit
from domain.recipients import BenefitChange, RecipientStatus, RecipientView
from domain.townships import SEED_TOWNSHIPS
from settings import Settings
from stack import EmbeddedStack
from store.calendar import load_calendar
from store.db import session_scope
from store.recipients import VIEW, Payee, seal_payee
from store.records import write_new_case
from store.tables import RecipientRecord, ReviewRecord
from workflows.client import connect
from workflows.review import ReviewRoundWorkflow

CHUNK = 2_000


@dataclass
class ReviewRun:
    households: int
    due_today: bool
    seconds: float
    opened: int
    written_seconds: float
    open_reviews: int
    worker_before_mb: float
    worker_peak_mb: float
    worker_after_mb: float
    seed_seconds: float


def _resident_id(n: int, born: int) -> str:
    first17 = f"370305{born + n % 28:08d}{n % 1000:03d}"
    return first17 + check_digit(first17)


def seed(settings: Settings, households: int, *, all_due: bool) -> float:
    """``households`` active 低保 households over every township, each with its approving case
    (its intake sealed, as the register keeps it), their reviews due one a day over the next
    year or, ``all_due``, today."""
    began = time.monotonic()
    ring = settings.key_ring()
    villages = [v.code for t in SEED_TOWNSHIPS for v in t.villages]
    at = datetime.now(UTC)
    today = local_date(at)
    accepted = at - timedelta(days=400)  # long decided: no watch looks at these cases
    with session_scope(settings.database_url) as session:
        deadlines = compute_deadlines(
            load_calendar(session),
            DeadlineFacts(accepted_on=local_date(accepted), policy=settings.policy),
        )
    template = CaseStart(
        case_no="", assistance_type=AssistanceType.dibao, township="", village="", area="urban",
        channel=Channel.walk_in, applicant=Applicant(name="", id_number="", phone=""),
        household=[], reason="bench", accepted_at=accepted, accepted_by=SYSTEM,
        policy=settings.policy, deadlines=deadlines,
    )  # fmt: skip
    rows: list[dict] = []
    for first in range(0, households, CHUNK):
        with session_scope(settings.database_url, writes=True) as session:
            for n in range(first, min(first + CHUNK, households)):
                village = villages[n % len(villages)]
                case_no = f"bench-{n:07d}"
                name = f"户主{n}"
                start = replace(
                    template, case_no=case_no, township=village[:9], village=village,
                    applicant=Applicant(name=name, id_number=_resident_id(n, 19500101),
                                        phone=f"139{n:08d}"),
                    household=[HouseholdMember(name=f"{name}之子", relation="子女",
                                               id_number=_resident_id(n, 20100101))],
                )  # fmt: skip
                view = initial_view(start)
                view.stage, view.monthly_amount = Stage.approved, Decimal("900.00")
                view.decided_at = view.closed_at = view.first_payment_at = accepted
                view.version = 1
                entry = AuditEntry(case_no=case_no, seq=0, at=accepted, actor=SYSTEM,
                                   action="accepted", from_stage=None, to_stage="survey")  # fmt: skip
                write_new_case(session, view=view, start=start, entry=entry, ring=ring)
                rows.append(_recipient(n, start, at=at, due=today if all_due else
                                       today + timedelta(days=n % 365), ring=ring))  # fmt: skip
            session.connection().execute(insert(RecipientRecord.__table__), rows)
            rows = []
    return time.monotonic() - began


def _recipient(n: int, start: CaseStart, *, at: datetime, due: date, ring) -> dict:
    number = f"370305-DB-{at.year}-{n + 1:07d}"
    amount = Decimal("900.00")
    account_no = f"621{n:013d}"
    view = RecipientView(
        recipient_no=number, case_no=start.case_no, assistance_type="dibao",
        township=start.township, village=start.village, applicant_name=start.applicant.name,
        household_size=2, monthly_amount=amount, start_month=f"{at:%Y-%m}",
        status=RecipientStatus.active, bank_account=f"****{account_no[-4:]}", registered_at=at,
        course=[BenefitChange(f"{at:%Y-%m}", RecipientStatus.active, amount, "bench", "bench", at)],
        area="urban", review_cadence="yearly", review_due=due,
    )  # fmt: skip
    payee = Payee(
        account=BankAccount(bank="齐商银行", account_no=account_no, holder=start.applicant.name),
        id_number=start.applicant.id_number,
        phone=start.applicant.phone,
    )
    fields = VIEW.dump_python(view)
    return {k: v for k, v in fields.items() if k in RecipientRecord.model_fields} | {
        "view": VIEW.dump_json(view).decode(),
        "payee": seal_payee(payee, recipient_no=number, ring=ring),
    }


def _open_and_written(settings: Settings) -> tuple[int, int]:
    with session_scope(settings.database_url) as session:
        conn = session.connection()
        opened = conn.execute(select(func.count()).select_from(ReviewRecord.__table__)).scalar()
        written = conn.execute(
            select(func.count()).where(ReviewRecord.__table__.c.version > 0)
        ).scalar()
    return opened, written


async def run(
    stack: EmbeddedStack, settings: Settings, households: int, *, all_due: bool
) -> ReviewRun:
    seeded = seed(settings, households, all_due=all_due)
    worker = next(p for name, p in stack.processes if name.startswith("worker"))
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, ring=settings.key_ring()
    )
    await asyncio.sleep(2)  # the worker settles after its start
    before = memory_of(worker.pid).rss
    peak = before
    began = time.monotonic()
    handle = await client.start_workflow(
        ReviewRoundWorkflow.run, ReviewRound(), id=f"bench-reviews-{uuid.uuid4().hex[:6]}",
        task_queue=settings.task_queue,
    )  # fmt: skip
    while not (done := asyncio.ensure_future(handle.result())).done():
        peak = max(peak, memory_of(worker.pid).rss)
        await asyncio.wait([done], timeout=0.5)
        if done.done():
            break
    opened = done.result()
    seconds = time.monotonic() - began
    while True:  # every review's workflow has written its opening
        peak = max(peak, memory_of(worker.pid).rss)
        rows, written = _open_and_written(settings)
        if written >= rows:
            break
        await asyncio.sleep(0.5)
    written_seconds = time.monotonic() - began
    await asyncio.sleep(5)
    after = memory_of(worker.pid)
    return ReviewRun(
        households=households, due_today=all_due, seconds=seconds, opened=opened,
        written_seconds=written_seconds, open_reviews=rows, worker_before_mb=before,
        worker_peak_mb=max(peak, after.peak), worker_after_mb=after.rss, seed_seconds=seeded,
    )  # fmt: skip


def report(run: ReviewRun, *, database: str) -> list[str]:
    due = "all due today" if run.due_today else "due one a day over the coming year"
    per = run.written_seconds / run.opened * 1000 if run.opened else float("nan")
    return [
        f"review round of a register of {run.households:,} households ({database}; {due}): "
        f"{run.opened:,} reviews opened in {run.seconds:.1f} s, every one's workflow started "
        f"and its opening written after {run.written_seconds:.1f} s ({per:.1f} ms a review)",
        f"  review workflows waiting (one timer each): {run.open_reviews:,}; the register's "
        f"other {run.households - run.open_reviews:,} households have none",
        f"  worker RSS {run.worker_before_mb:.0f} MB before, peak {run.worker_peak_mb:.0f} MB, "
        f"{run.worker_after_mb:.0f} MB after",
        f"  (seeding the register and its cases took {run.seed_seconds:.1f} s, not counted)",
    ]
