"""The monthly payroll measured (``make bench ARGS="--payroll 100000"``): N households seeded
straight into the register (rows as an approval writes them), then one month's payroll through
the real stack — ``POST /payrolls`` as a district officer, the payroll workflow and its township
children on the worker, the bank simulator's batch interface, the SMS platform — to completion,
every household paid and every batch reconciled; the worker's resident memory sampled
throughout. Beside it, in the same run, the floor: the same batches posted straight to the bank
and the same rows written by a plain script, nothing else; and the ratio of the two.
"""

import asyncio
import random
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlalchemy import bindparam, insert, select, update

from api.tokens import issue_token
from bench.resources import memory_of
from domain.cases import BankAccount, Role
from domain.identity import check_digit
from domain.months import Month
from domain.payroll import ItemStatus, payment_line
from domain.recipients import BenefitChange, RecipientStatus, RecipientView
from domain.townships import SEED_TOWNSHIPS
from settings import Settings
from stack import EmbeddedStack
from store.db import session_scope
from store.evidence import append_to_trails
from store.recipients import VIEW, Payee, open_payee, seal_payee
from store.tables import PayrollBatch, PayrollItem, RecipientRecord

TARGET_SECONDS = 300.0
TARGET_WORKER_MB = 500.0
SEED_CHUNK = 5_000


@dataclass
class PayrollRun:
    households: int
    seconds: float
    paid: int
    refused: int
    reconciled: bool
    worker_peak_mb: float
    floor_seconds: float
    seed_seconds: float


def seed(settings: Settings, households: int, *, start: Month) -> float:
    """``households`` active 低保 households over every township, paid from ``start`` on; one
    in a thousand into a closed account (the bank refuses it). The seconds it took."""
    began = time.monotonic()
    ring = settings.key_ring()
    villages = [v.code for t in SEED_TOWNSHIPS for v in t.villages]
    at = datetime.now(UTC)
    rows = []
    for n in range(households):
        number = f"370305-DB-{start.year}-{n + 1:07d}"
        village = villages[n % len(villages)]
        amount = Decimal(800 + n % 1000)
        account_no = ("000" if n % 1000 == 999 else "621") + f"{n:013d}"
        view = RecipientView(
            recipient_no=number, case_no=f"bench-{n}", assistance_type="dibao",
            township=village[:9], village=village, applicant_name=f"户主{n}", household_size=2,
            monthly_amount=amount, start_month=str(start), status=RecipientStatus.active,
            bank_account=f"****{account_no[-4:]}", registered_at=at,
            course=[BenefitChange(str(start), RecipientStatus.active, amount, "bench", "bench", at)],
        )  # fmt: skip
        payee = Payee(
            account=BankAccount(bank="齐商银行", account_no=account_no, holder=f"户主{n}"),
            id_number=_resident_id(n),
            phone=f"139{n:08d}",
        )
        fields = VIEW.dump_python(view)
        rows.append(
            {k: v for k, v in fields.items() if k in RecipientRecord.model_fields}
            | {"view": VIEW.dump_json(view).decode(),
               "payee": seal_payee(payee, recipient_no=number, ring=ring)}
        )  # fmt: skip
        if len(rows) == SEED_CHUNK or n == households - 1:
            with session_scope(settings.database_url, writes=True) as session:
                session.connection().execute(insert(RecipientRecord.__table__), rows)
            rows = []
    return time.monotonic() - began


def _resident_id(n: int) -> str:
    first17 = f"370305{19500101 + n % 28:08d}{n % 1000:03d}"
    return first17 + check_digit(first17)


async def run(stack: EmbeddedStack, settings: Settings, households: int) -> PayrollRun:
    month = Month.at(datetime.now(UTC)).plus(1)
    seeded = seed(settings, households, start=month.plus(-1))
    worker = next(p for name, p in stack.processes if name.startswith("worker"))
    token = issue_token(
        secret=settings.jwt_secret, sub="bench-officer", name="区民政局", role=Role.district_officer,
        jurisdiction="370305", issuer=settings.token_issuer, audience=settings.token_audience,
    )  # fmt: skip
    api = f"http://{settings.api_host}:{settings.api_port}"
    peak = 0.0
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as http:
        began = time.monotonic()
        started = await http.post(
            "/payrolls", json={"month": str(month)}, headers={"Idempotency-Key": "bench-payroll"}
        )
        started.raise_for_status()
        while True:
            peak = max(peak, memory_of(worker.pid).rss)
            detail = (await http.get(f"/payrolls/{month}")).json()
            if detail.get("status") == "completed":
                break
            if time.monotonic() - began > 3 * TARGET_SECONDS:
                raise RuntimeError(f"the payroll of {month} did not complete: {detail}")
            await asyncio.sleep(0.5)
        seconds = time.monotonic() - began
    peak = max(peak, memory_of(worker.pid).peak)
    townships = detail["townships"]
    floor = await _floor(settings, month.plus(1), households=households)
    return PayrollRun(
        households=households,
        seconds=seconds,
        paid=sum(t["paid"]["count"] for t in townships),
        refused=sum(t["refused"]["count"] for t in townships),
        reconciled=detail["reconciled"],
        worker_peak_mb=peak,
        floor_seconds=floor,
        seed_seconds=seeded,
    )


async def _floor(settings: Settings, month: Month, *, households: int) -> float:
    """The payroll's own work with nothing around it: the same households' lines posted to the
    bank in batches of the same size, their results read, and the same rows written (items,
    batches, their outcomes, each household's line on its trail), for another month so that
    the keys are new."""
    ring, size = settings.key_ring(), settings.payroll_batch_size
    bank = settings.payment_url.rstrip("/")
    began = time.monotonic()
    async with httpx.AsyncClient(timeout=120) as http:
        for township in [t.code for t in SEED_TOWNSHIPS]:
            with session_scope(settings.database_url) as session:
                rows = (
                    session.connection()
                    .execute(
                        select(RecipientRecord.recipient_no, RecipientRecord.payee)
                        .where(RecipientRecord.township == township)
                        .order_by(RecipientRecord.recipient_no)
                    )
                    .all()
                )
            for part, first in enumerate(range(0, len(rows), size), start=1):
                chunk = rows[first : first + size]
                lines = []
                for number, sealed in chunk:
                    payee = open_payee(
                        RecipientRecord(recipient_no=number, payee=sealed), ring=ring
                    )
                    lines.append({
                        "item_key": f"floor:{number}:{month}", "recipient_no": number,
                        "month": str(month), "payee_name": payee.account.holder,
                        "payee_id_number": payee.id_number, "amount": "1000.00",
                        "purpose": f"dibao:{month}", "account": asdict(payee.account),
                    })  # fmt: skip
                with session_scope(settings.database_url, writes=True) as session:
                    session.connection().execute(
                        insert(PayrollItem.__table__),
                        [{"recipient_no": line["recipient_no"], "month": str(month),
                          "township": township, "part": part, "amount_fen": 100_000,
                          "status": ItemStatus.pending, "key": line["item_key"], "reason": "",
                          "account": "", "reissues": 0, "notified": False} for line in lines],
                    )  # fmt: skip
                    session.connection().execute(
                        insert(PayrollBatch.__table__),
                        [{"month": str(month), "township": township, "part": part,
                          "batch_key": f"floor:{township}:{month}:{part}", "items": len(lines),
                          "total_fen": 100_000 * len(lines)}],
                    )  # fmt: skip
                answer = await http.post(
                    f"{bank}/batches",
                    json={"batch_key": f"floor:{township}:{month}:{part}:{random.random()}",
                          "items": lines},
                )  # fmt: skip
                answer.raise_for_status()
                results = (
                    await http.get(
                        f"{bank}/batches/{answer.json()['batch_id']}", params={"limit": size}
                    )
                ).json()["lines"]
                with session_scope(settings.database_url, writes=True) as session:
                    session.connection().execute(
                        update(PayrollItem.__table__)
                        .where(PayrollItem.__table__.c.key == bindparam("k"))
                        .values(status=bindparam("s"), transfer_id=bindparam("t")),
                        [{"k": r["item_key"], "s": r["status"], "t": r["transfer_id"]}
                         for r in results],
                    )  # fmt: skip
                    # …and each household's line on its trail, as the payroll writes it.
                    answers = {r["recipient_no"]: r for r in results}
                    append_to_trails(
                        session,
                        list(answers),
                        lambda number, seq, answers=answers: payment_line(
                            recipient_no=number,
                            seq=seq,
                            at=datetime.now(UTC),
                            standing="active",
                            month=str(month),
                            amount=Decimal("1000.00"),
                            paid=answers[number]["status"] == "paid",
                            account="****",
                            transfer_id=answers[number]["transfer_id"],
                            reason=answers[number].get("reason") or "",
                        ),  # fmt: skip
                    )
    return time.monotonic() - began


def report(run: PayrollRun, *, database: str) -> list[str]:
    ratio = run.seconds / run.floor_seconds if run.floor_seconds else float("nan")
    within = run.seconds <= TARGET_SECONDS and run.worker_peak_mb <= TARGET_WORKER_MB
    return [
        f"payroll of {run.households:,} households ({database}): {run.seconds:.1f} s to paid and "
        f"reconciled (target ≤ {TARGET_SECONDS:.0f} s), {run.paid:,} paid, {run.refused:,} "
        f"refused by the bank, reconciled: {run.reconciled}",
        f"  worker peak RSS {run.worker_peak_mb:.0f} MB (target ≤ {TARGET_WORKER_MB:.0f} MB): "
        + ("within the targets" if within else "NOT within the targets"),
        f"  floor (the same batches and rows by a plain script): {run.floor_seconds:.1f} s; "
        f"payroll / floor: {ratio:.2f}",
        f"  (seeding the register took {run.seed_seconds:.1f} s, not counted)",
    ]
