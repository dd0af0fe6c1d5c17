"""Test plumbing: real servers on free loopback ports, and cases to put through them."""

import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import uvicorn
from temporalio.client import Client

from activities.external import ExternalActivities
from domain.calendar import local_date
from domain.cases import (
    Actor,
    Applicant,
    AssistanceType,
    AuditEntry,
    BankAccount,
    CaseStart,
    Channel,
    HouseholdMember,
    Role,
    Stage,
    initial_view,
)
from domain.deadlines import DeadlineFacts, compute_deadlines
from domain.emergency import Cause, EmergencyStart
from domain.identity import check_digit
from domain.policy import Policy
from settings import Settings
from store.calendar import load_calendar
from store.db import Database, session_scope
from store.recipients import register_household
from store.records import write_new_case
from watches.halted import mark_halted_cases, reconcile_halted_cases
from workflows.client import data_converter

RING = Settings().key_ring()
CONVERTER = data_converter(RING)
"""What the worker and the API use: payloads encrypted under the configured (default) key."""


@contextmanager
def serve(
    app, *, host: str = "127.0.0.1", log_level: str = "warning", factory: bool = False
) -> Iterator[str]:
    """Serve an ASGI app (or, with ``factory``, what a factory makes, as ``uvicorn --factory``
    does) over real HTTP on a free port, in a thread; yields its base URL."""
    # Named TCP, not left to default (proto 0): only then does asyncio set TCP_NODELAY on each
    # connection, without which every answer in two writes waits ~40 ms on a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((host, 0))
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", factory=factory)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "server failed to start"
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range, where the Temporal dev server
    and other processes pick their own random ports: none of them takes it from under us."""
    for _ in range(200):
        port = random.randint(20000, 30000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


_serial = iter(range(1, 10**6))


def id_number(born: str = "19800101", region: str = "370305") -> str:
    """A fresh, valid resident ID number (GB 11643 check digit) for a test person: never the
    same twice in a session, whose cases share one database (after every 1,000 people of a
    birth date, the next are born a day later)."""
    serial = next(_serial)
    day = datetime.strptime(born, "%Y%m%d") + timedelta(days=serial // 1000)
    first17 = f"{region}{day:%Y%m%d}{serial % 1000:03d}"
    return first17 + check_digit(first17)


ASSISTANT = Actor(
    user_id="u-assistant", name="王助理", role=Role.township_assistant, jurisdiction="370305001"
)
COORDINATOR = Actor(
    user_id="u-coordinator",
    name="李协理",
    role=Role.village_coordinator,
    jurisdiction="370305001001",
)
OFFICER = Actor(
    user_id="u-officer", name="赵科长", role=Role.district_officer, jurisdiction="370305"
)


def case_start(
    *,
    case_no: str,
    database_url: str,
    accepted_at: datetime,
    assistance_type: AssistanceType = AssistanceType.dibao,
    policy: Policy | None = None,
    **overrides,
) -> CaseStart:
    policy = policy or Policy()
    with session_scope(database_url) as session:
        calendar = load_calendar(session)
    deadlines = compute_deadlines(
        calendar, DeadlineFacts(accepted_on=local_date(accepted_at), policy=policy)
    )
    fields = dict(
        case_no=case_no,
        assistance_type=assistance_type,
        township="370305001",
        village="370305001001",
        area="urban",
        channel=Channel.walk_in,
        applicant=Applicant(name="张三", id_number=id_number(), phone="13800000000"),
        household=[
            HouseholdMember(
                name="张小三",
                id_number=id_number("20150101"),
                relation="child",
                monthly_income=Decimal(0),
            )
        ],
        reason="job loss",
        accepted_at=accepted_at,
        accepted_by=ASSISTANT,
        policy=policy,
        deadlines=deadlines,
        bank_account=BankAccount(bank="齐商银行", account_no="6223000011112222", holder="张三"),
    )
    return CaseStart(**(fields | overrides))


def emergency_start(
    *,
    case_no: str,
    requested_at: datetime,
    policy: Policy | None = None,
    **overrides,
) -> EmergencyStart:
    """A family of two in 闻韶街道 whose home burnt down, asking for ¥2,000."""

    fields = {
        "case_no": case_no,
        "township": "370305001",
        "village": "370305001001",
        "channel": Channel.walk_in,
        "cause": Cause.fire,
        "applicant": Applicant(name="王五", id_number=id_number(), phone="13900000002"),
        "household": [
            HouseholdMember(name="王小五", id_number=id_number("20120101"), relation="child")
        ],
        "bank_account": BankAccount(bank="齐商银行", account_no="6223000055554444", holder="王五"),
        "requested_amount": Decimal("2000"),
        "situation": "房屋失火，家具衣物全部烧毁",
        "requested_at": requested_at,
        "requested_by": ASSISTANT,
        "policy": policy or Policy(),
    }
    return EmergencyStart(**(fields | overrides))


APPROVER = Actor(
    user_id="u-approver", name="孙镇长", role=Role.township_approver, jurisdiction="370305001"
)
SUPERVISOR = Actor(
    user_id="u-supervisor", name="周督办", role=Role.supervisor, jurisdiction="370305"
)


async def watch_halted_now(client: Client, settings: Settings) -> list[str]:
    """One round of the worker's watch over cases whose workflow stopped, with no margin:
    they are halted, then their payments reconciled with the bank; the cases reconciled."""
    db = Database(settings.database_url)
    now = datetime.now(UTC)
    await mark_halted_cases(client, db, since=now - timedelta(days=1))
    bank = ExternalActivities(
        payment_url=settings.payment_url,
        sms_url=settings.sms_url,
        verification_url=settings.verification_url,
    )
    try:
        return await reconcile_halted_cases(
            db, bank, ring=settings.key_ring(), now=now, after=timedelta(0)
        )
    finally:
        await bank.close()


def households(
    database_url: str,
    count: int,
    *,
    closed: int = 0,
    villages: tuple[str, ...] = ("370305001001", "370305002001", "370305100201"),
) -> list[str]:
    """``count`` households entered in the register as their approvals enter them (each with
    its case), spread over ``villages``; the first ``closed`` paid into closed accounts. Their
    numbers."""
    numbers = []
    with session_scope(database_url, writes=True) as session:
        for n in range(count):
            village = villages[n % len(villages)]
            name = f"户主{n}"
            start = case_start(
                case_no=f"T-{uuid.uuid4().hex[:10]}",
                database_url=database_url,
                accepted_at=datetime.now(UTC),
                township=village[:9],
                village=village,
                applicant=Applicant(name=name, id_number=id_number(), phone=f"137{n:08d}"),
                household=[HouseholdMember(name=f"{name}之子", id_number=id_number("20100101"),
                                           relation="子女")],
            )  # fmt: skip
            accepted = AuditEntry(
                case_no=start.case_no, seq=0, at=start.accepted_at, actor=ASSISTANT,
                action="accepted", from_stage=None, to_stage="survey",
            )  # fmt: skip
            # The case approved and paid, as a household's case is once it is in the register.
            view = initial_view(start)
            view.stage, view.monthly_amount = Stage.approved, Decimal("1000.00") + n
            view.decided_at = view.closed_at = view.first_payment_at = start.accepted_at
            write_new_case(session, view=view, start=start, entry=accepted, ring=RING)
            account_no = ("0009" if n < closed else "6217") + f"{n:012d}"
            numbers.append(
                register_household(
                    session,
                    start=start,
                    account=BankAccount(bank="齐商银行", account_no=account_no, holder=name),
                    amount=Decimal("1000.00") + n,
                    approved_by=OFFICER,
                    approved_at=datetime.now(UTC),
                    first_payment_key=f"{start.case_no}:first-payment",
                    ring=RING,
                )
            )
    return numbers
