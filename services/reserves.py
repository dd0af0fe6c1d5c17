"""The townships' emergency reserves (临时救助储备金): read one and its ledger, and the
district's top-up, which also places the holds of the cases waiting for funds, in the order
they were requested, and wakes them."""

from datetime import UTC, datetime
from decimal import Decimal

import structlog
from sqlmodel import Session
from temporalio.client import Client

from domain.cases import Actor
from domain.reserve import ReserveState
from services.cases import EMERGENCIES
from store import reserve
from store.db import Database
from store.pages import Paged
from store.records import waiting_for_funds
from store.tables import ReserveEntry

log = structlog.get_logger()


async def reserve_of(*, db: Database, township: str) -> ReserveState:
    return await db.read(reserve.reserve_of, township=township)


async def ledger(*, db: Database, township: str, page: int, page_size: int) -> Paged[ReserveEntry]:
    """Every top-up, hold, settlement and release, newest first, with the balance after each."""
    return await db.read(reserve.ledger, township=township, page=page, page_size=page_size)


async def top_up(
    *,
    db: Database,
    client: Client,
    user: Actor,
    township: str,
    amount: Decimal,
    note: str,
    key: str,
) -> ReserveState:
    """The district tops the reserve up under ``key`` (money moves once per key); the cases
    waiting for funds are paid in the order they were requested, as far as the money goes."""
    state, woken = await db.write(
        _top_up, township=township, amount=amount, key=f"top-up:{user.user_id}:{key}",
        note=note, by=user.user_id,
    )  # fmt: skip
    for case_no in woken:
        await client.get_workflow_handle(EMERGENCIES.workflow_id(case_no)).signal(
            EMERGENCIES.workflow.funds_offered
        )
    log.info("reserve.topped_up", township=township, amount=str(amount), woken=len(woken))
    return state


def _top_up(
    session: Session, *, township: str, amount: Decimal, key: str, note: str, by: str
) -> tuple[ReserveState, list[str]]:
    """The top-up and the holds it makes possible, in one transaction."""
    at = datetime.now(UTC)
    reserve.top_up(session, township=township, amount=amount, key=key, note=note, by=by, at=at)
    woken = []
    for view in waiting_for_funds(session, township=township):
        if reserve.hold(
            session,
            township=township,
            case_no=view.case_no,
            amount=view.approved_amount,
            key=view.hold_key,
            at=at,
        ):
            woken.append(view.case_no)
    return reserve.reserve_of(session, township=township), woken
