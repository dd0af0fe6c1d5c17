"""/townships: the district's townships and villages (reference data, edited by the admin)."""

from fastapi import APIRouter, HTTPException, status
from sqlmodel import delete, select

from api.deps import CurrentUser, SessionDep, allow
from api.models import TownshipPublic, TownshipUpdate, VillagePublic
from domain.cases import Actor, Role
from domain.townships import DISTRICT_CODE
from store.tables import CaseRecord, TownshipRow, VillageRow

router = APIRouter(prefix="/townships", tags=["townships"])


def _listing(session, codes: list[str] | None = None) -> list[TownshipPublic]:  # noqa: ANN001
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
def list_townships(session: SessionDep, user: CurrentUser) -> list[TownshipPublic]:
    return _listing(session)


@router.put("/{code}", response_model=TownshipPublic)
def put_township(code: str, body: TownshipUpdate, session: SessionDep, user: Actor = allow(Role.admin)) -> TownshipPublic:
    """Add or correct a township and its villages. A village with cases cannot be removed."""
    if not (len(code) == 9 and code.isdigit() and code.startswith(DISTRICT_CODE)):
        raise HTTPException(422, f"a township code is 9 digits starting {DISTRICT_CODE}")
    if bad := [v.code for v in body.villages if not v.code.startswith(code)]:
        raise HTTPException(422, f"village codes must start with {code}: {bad}")
    kept = [v.code for v in body.villages]
    dropped = select(VillageRow.code).where(VillageRow.township_code == code, VillageRow.code.not_in(kept))
    if in_use := session.exec(select(CaseRecord.village).where(CaseRecord.village.in_(dropped)).distinct()).all():
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"villages with cases cannot be removed: {', '.join(sorted(in_use))}"
        )
    session.merge(TownshipRow(code=code, name=body.name, area=body.area))
    session.exec(delete(VillageRow).where(VillageRow.code.in_(dropped)))
    for v in body.villages:
        session.merge(VillageRow(code=v.code, township_code=code, name=v.name))
    session.commit()
    return _listing(session, [code])[0]
