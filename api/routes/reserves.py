"""/townships/{code}/reserve: the township's emergency reserve (临时救助储备金) and its ledger.

The money lives in the ledger; a top-up by the district also places the holds of the cases
waiting for funds, in the order they were requested, and wakes them.
"""

from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Path, Query
from sqlmodel import Session, select

from api.deps import DatabaseDep, IdempotencyKey, SessionDep, TemporalDep
from api.models import ReserveEntryPublic, ReserveLedgerPage, ReservePublic, TopUpCreate
from api.permissions import READ_RESERVE, TOP_UP, PermittedRoute, permit
from domain.cases import Actor
from domain.emergency import EmergencyStage
from domain.errors import InvalidData
from domain.townships import DISTRICT_CODE
from store import reserve
from store.records import view_of
from store.tables import EmergencyRecord
from workflows.client import emergency_workflow_id
from workflows.emergency import EmergencyWorkflow

router = APIRouter(
    prefix="/townships/{code}/reserve", tags=["reserves"], route_class=PermittedRoute
)
log = structlog.get_logger()

TownshipCode = Annotated[str, Path(pattern=rf"^{DISTRICT_CODE}\d{{3}}$", description="9 digits")]


def _public(state: reserve.ReserveState) -> ReservePublic:
    return ReservePublic.model_validate(state, from_attributes=True)


@router.get("", response_model=ReservePublic)
def get_reserve(
    code: TownshipCode, session: SessionDep, user: Actor = permit(READ_RESERVE)
) -> ReservePublic:
    return _public(reserve.reserve_of(session, township=code))


@router.get("/ledger", response_model=ReserveLedgerPage)
def get_ledger(
    code: TownshipCode,
    session: SessionDep,
    user: Actor = permit(READ_RESERVE),
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReserveLedgerPage:
    """Every top-up, hold, settlement and release, newest first, with the balance after each."""
    entries, total = reserve.ledger(
        session, township=code, offset=(page - 1) * page_size, limit=page_size
    )
    return ReserveLedgerPage(
        items=[ReserveEntryPublic.model_validate(e) for e in entries],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.post("/top-ups", response_model=ReservePublic)
async def top_up(
    code: TownshipCode,
    body: TopUpCreate,
    db: DatabaseDep,
    client: TemporalDep,
    key: IdempotencyKey = None,
    user: Actor = permit(TOP_UP),
) -> ReservePublic:
    """The district tops the reserve up; the cases waiting for funds are paid in the order
    they were requested, as far as the money goes. Send an Idempotency-Key: money moves once."""
    if not key:
        raise InvalidData("header.Idempotency-Key", "a top-up needs an Idempotency-Key header")
    state, woken = await db.write(
        _top_up, township=code, amount=body.amount, key=f"top-up:{user.user_id}:{key}",
        note=body.note, by=user.user_id,
    )  # fmt: skip
    for case_no in woken:
        await client.get_workflow_handle(emergency_workflow_id(case_no)).signal(
            EmergencyWorkflow.funds_offered
        )
    log.info("reserve.topped_up", township=code, amount=str(body.amount), woken=len(woken))
    return _public(state)


def _top_up(
    session: Session,
    *,
    township: str,
    amount,
    key: str,
    note: str,
    by: str,
) -> tuple[reserve.ReserveState, list[str]]:
    """The top-up and the holds it makes possible, in one transaction."""
    at = datetime.now(UTC)
    reserve.top_up(session, township=township, amount=amount, key=key, note=note, by=by, at=at)
    waiting = session.exec(
        select(EmergencyRecord)
        .where(
            EmergencyRecord.township == township,
            EmergencyRecord.stage == EmergencyStage.awaiting_funds,
        )
        .order_by(EmergencyRecord.requested_at)
    ).all()
    woken = []
    for row in waiting:
        view = view_of(row)
        if reserve.hold(
            session,
            township=township,
            case_no=row.case_no,
            amount=view.approved_amount,
            key=view.hold_key,
            at=at,
        ):
            woken.append(row.case_no)
    return reserve.reserve_of(session, township=township), woken
