"""Cases as they are started: the start of an application and of an emergency (what intake
hands the workflow), and households already in the register."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from domain.calendar import local_date
from domain.cases import (
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
from domain.deadlines import DeadlineFacts, compute_deadlines
from domain.emergency import Cause, EmergencyStart
from domain.policy import Policy
from store.calendar import load_calendar
from store.db import session_scope
from store.recipients import register_household
from store.records import write_new_case
from tests.helpers.actors import ASSISTANT, OFFICER
from tests.helpers.people import id_number
from tests.helpers.stack import RING


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


def households(
    database_url: str,
    count: int,
    *,
    closed: int = 0,
    villages: tuple[str, ...] = ("370305001001", "370305002001", "370305100201"),
    alone: bool = False,
    approved_at: datetime | None = None,
    **registered,
) -> list[str]:
    """``count`` households entered in the register as their approvals enter them (each with
    its case), spread over ``villages``; the first ``closed`` paid into closed accounts;
    ``alone``: the applicant is the only member; approved now or at ``approved_at``;
    ``registered``: more of ``register_household``'s arguments, or the case's
    ``assistance_type``. Their numbers."""
    numbers = []
    with session_scope(database_url, writes=True) as session:
        for n in range(count):
            village = villages[n % len(villages)]
            name = f"户主{n}"
            start = case_start(
                case_no=f"T-{uuid.uuid4().hex[:10]}",
                database_url=database_url,
                assistance_type=registered.get("assistance_type", AssistanceType.dibao),
                accepted_at=datetime.now(UTC),
                township=village[:9],
                village=village,
                applicant=Applicant(name=name, id_number=id_number(), phone=f"137{n:08d}"),
                household=[] if alone else [HouseholdMember(
                    name=f"{name}之子", id_number=id_number("20100101"), relation="子女")],
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
                    approved_at=approved_at or datetime.now(UTC),
                    first_payment_key=f"{start.case_no}:first-payment",
                    ring=RING,
                    **{k: v for k, v in registered.items() if k != "assistance_type"},
                )
            )
    return numbers
