"""/townships: the district's townships and villages (reference data, edited by the admin)."""

from fastapi import APIRouter, Path

from api.deps import DatabaseDep, IdempotencyKey, SettingsDep
from api.models import TownshipPublic, TownshipUpdate
from api.permissions import EDIT_TOWNSHIP, READ_REFERENCE, PermittedRoute, permit
from domain.cases import Actor
from domain.townships import DISTRICT_CODE
from services import townships

router = APIRouter(prefix="/townships", tags=["townships"], route_class=PermittedRoute)

TownshipCode = Path(pattern=rf"^{DISTRICT_CODE}\d{{3}}$", description="9 digits")


@router.get("", response_model=list[TownshipPublic])
async def list_townships(
    db: DatabaseDep, user: Actor = permit(READ_REFERENCE)
) -> list[TownshipPublic]:
    """The district's townships and villages: reference data, the same for everyone."""
    return [TownshipPublic.model_validate(t) for t in await townships.listing(db=db)]


@router.put("/{code}", response_model=TownshipPublic)
async def put_township(
    body: TownshipUpdate,
    db: DatabaseDep,
    settings: SettingsDep,
    code: str = TownshipCode,
    user: Actor = permit(EDIT_TOWNSHIP),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> TownshipPublic:
    """Add or correct a township and its villages. A village with cases cannot be removed. A
    new township's emergency reserve opens at the minimum (``reserve_minimum``), its opening
    top-up on the ledger."""
    township = await townships.put(
        db=db,
        code=code,
        name=body.name,
        area=body.area,
        villages=[(v.code, v.name, v.area) for v in body.villages],
        reserve_minimum=settings.policy.reserve_minimum,
    )
    return TownshipPublic.model_validate(township)
