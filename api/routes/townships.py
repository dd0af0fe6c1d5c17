"""/townships: the district's townships and villages (reference data, edited by the admin)."""

from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter, Path
from sqlmodel import Session, delete, select

from api.deps import DatabaseDep, IdempotencyKey, SessionDep, SettingsDep
from api.models import TownshipPublic, TownshipUpdate, VillagePublic
from api.permissions import EDIT_TOWNSHIP, READ_REFERENCE, PermittedRoute, permit
from domain.cases import Actor
from domain.errors import Conflict, InvalidData
from domain.townships import DISTRICT_CODE, village_area
from store import reserve
from store.tables import CaseRecord, TownshipRow, VillageRow

router = APIRouter(prefix="/townships", tags=["townships"], route_class=PermittedRoute)

TownshipCode = Path(pattern=rf"^{DISTRICT_CODE}\d{{3}}$", description="9 digits")


def _listing(session: Session, codes: list[str] | None = None) -> list[TownshipPublic]:
    townships = session.exec(select(TownshipRow).order_by(TownshipRow.code)).all()
    villages: dict[str, list[VillagePublic]] = {}
    for v in session.exec(select(VillageRow).order_by(VillageRow.code)):
        villages.setdefault(v.township_code, []).append(VillagePublic.model_validate(v))
    return [
        TownshipPublic(code=t.code, name=t.name, area=t.area, villages=villages.get(t.code, []))
        for t in townships
        if codes is None or t.code in codes
    ]


@router.get("", response_model=list[TownshipPublic])
def list_townships(
    session: SessionDep, user: Actor = permit(READ_REFERENCE)
) -> list[TownshipPublic]:
    """The district's townships and villages: reference data, the same for everyone."""
    return _listing(session)


@router.put("/{code}", response_model=TownshipPublic)
async def put_township(
    body: TownshipUpdate,
    db: DatabaseDep,
    settings: SettingsDep,
    code: str = TownshipCode,
    user: Actor = permit(EDIT_TOWNSHIP),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> TownshipPublic:
    """Add or correct a township and its villages. A village with cases cannot be removed."""
    if bad := [v.code for v in body.villages if not v.code.startswith(code)]:
        raise InvalidData("villages", f"village codes must start with {code}: {', '.join(bad)}")
    if len({v.code for v in body.villages}) != len(body.villages):
        raise InvalidData("villages", "a village code appears twice")
    minimum = settings.policy.reserve_minimum
    return await db.write(_put_township, code=code, body=body, minimum=minimum)


def _put_township(
    session: Session, *, code: str, body: TownshipUpdate, minimum: Decimal
) -> TownshipPublic:
    kept = [v.code for v in body.villages]
    dropped = select(VillageRow.code).where(
        VillageRow.township_code == code, VillageRow.code.not_in(kept)
    )
    if in_use := session.exec(
        select(CaseRecord.village).where(CaseRecord.village.in_(dropped)).distinct()
    ).all():
        raise Conflict(f"villages with cases cannot be removed: {', '.join(sorted(in_use))}")
    session.merge(TownshipRow(code=code, name=body.name, area=body.area))
    session.exec(delete(VillageRow).where(VillageRow.code.in_(dropped)))
    for v in body.villages:
        area = v.area or village_area(v.name)
        session.merge(VillageRow(code=v.code, township_code=code, name=v.name, area=area))
    # A new township's reserve opens empty: the district tops it up to its minimum.
    reserve.open_reserve(session, township=code, minimum=minimum, at=datetime.now(UTC))
    session.flush()
    return _listing(session, [code])[0]
