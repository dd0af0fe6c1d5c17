"""/townships/{code}/reserve: the township's emergency reserve (临时救助储备金) and its ledger.

The money lives in the ledger; a top-up by the district also places the holds of the cases
waiting for funds, in the order they were requested, and wakes them.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import DatabaseDep, IdempotencyKey, TemporalDep
from api.models import Page, ReserveEntryPublic, ReservePublic, TopUpCreate
from api.permissions import READ_RESERVE, TOP_UP, PermittedRoute, permit
from domain.cases import Actor
from domain.errors import InvalidData
from domain.townships import DISTRICT_CODE
from services import reserves

router = APIRouter(
    prefix="/townships/{code}/reserve", tags=["reserves"], route_class=PermittedRoute
)

TownshipCode = Annotated[str, Path(pattern=rf"^{DISTRICT_CODE}\d{{3}}$", description="9 digits")]


@router.get("", response_model=ReservePublic)
async def get_reserve(
    code: TownshipCode, db: DatabaseDep, user: Actor = permit(READ_RESERVE)
) -> ReservePublic:
    return ReservePublic.model_validate(await reserves.reserve_of(db=db, township=code))


@router.get("/ledger", response_model=Page[ReserveEntryPublic])
async def get_ledger(
    code: TownshipCode,
    db: DatabaseDep,
    user: Actor = permit(READ_RESERVE),
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ReserveEntryPublic]:
    """Every top-up, hold, settlement and release, newest first, with the balance after each."""
    entries = await reserves.ledger(db=db, township=code, page=page, page_size=page_size)
    return Page[ReserveEntryPublic].of(entries, ReserveEntryPublic.model_validate)


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
    state = await reserves.top_up(
        db=db, client=client, user=user, township=code, amount=body.amount, note=body.note,
        key=key,
    )  # fmt: skip
    return ReservePublic.model_validate(state)
