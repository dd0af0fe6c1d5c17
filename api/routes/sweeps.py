"""/townships/{code}/sweeps: a township's sweeps of its villages (摸底排查, 主动发现) — the
villages covered and the families found, each filed as a referral (``found_in_sweep``) in
the township's inbox, verified and answered as a department's referral is."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import Page, ReferralPublic, SweepCreate, SweepPublic
from api.permissions import LIST_SWEEPS, RECORD_SWEEP, PermittedRoute, permit
from domain.calendar import local_date
from domain.cases import Actor
from domain.sweeps import FamilyFound, SweepRecord
from domain.townships import DISTRICT_CODE
from services import sweeps

router = APIRouter(prefix="/townships", tags=["sweeps"], route_class=PermittedRoute)

TownshipCode = Path(pattern=rf"^{DISTRICT_CODE}\d{{3}}$", description="9 digits")


@router.post("/{code}/sweeps", status_code=status.HTTP_201_CREATED, response_model=SweepPublic)
async def record_sweep(
    body: SweepCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    code: str = TownshipCode,
    user: Actor = permit(RECORD_SWEEP),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> SweepPublic:
    """A sweep of the township's villages: each village covered must be the township's (422
    naming it); each family found becomes a referral of situation `found_in_sweep` in the
    township's inbox (its hardship in the note), with the referrals' deadline, outcomes and
    linking (a family already assisted or referred is linked, not doubled)."""
    record = SweepRecord(
        actor=user, township=code, swept_on=body.swept_on or local_date(datetime.now(UTC)),
        villages=tuple(body.villages),
        families=tuple(FamilyFound(**f.model_dump()) for f in body.families), note=body.note,
    )  # fmt: skip
    swept = await sweeps.record(
        db=db, client=client, record=record, policy=settings.policy, ring=settings.key_ring(),
        task_queue=settings.task_queue,
    )  # fmt: skip
    return SweepPublic.of(swept.row, [ReferralPublic.of(s, user.role) for s in swept.referrals])


@router.get("/{code}/sweeps", response_model=Page[SweepPublic])
async def list_sweeps(
    db: DatabaseDep,
    code: str = TownshipCode,
    user: Actor = permit(LIST_SWEEPS),
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[SweepPublic]:
    """The township's sweeps, newest first."""
    listed = await sweeps.listing(db=db, township=code, page=page, page_size=page_size)
    return Page[SweepPublic].of(listed, SweepPublic.of)
