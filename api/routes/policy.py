"""/policy: the parameters in force (standards, bands, limits, deadlines), for caseworkers; the
低保 standards a district officer sets from a month, which the register follows."""

from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import StandardChangeCreate, StandardChangePublic
from api.permissions import READ_REFERENCE, SET_STANDARD, PermittedRoute, permit
from domain.amounts import Expense, emergency_band, temporary_band
from domain.calendar import local_date
from domain.cases import Actor
from domain.emergency import Cause
from domain.policy import Policy
from services import standards

router = APIRouter(prefix="/policy", tags=["policy"], route_class=PermittedRoute)


class PolicyPublic(BaseModel):
    year: int
    parameters: Policy
    temporary_bands: dict[str, tuple[Decimal, Decimal]]
    """支出型临时救助 at review, in yuan, by expenditure."""
    emergency_bands: dict[str, tuple[Decimal, Decimal]]
    """急难 by cause, in yuan; above the band is 一事一议."""


@router.get("", response_model=PolicyPublic)
def get_policy(settings: SettingsDep, user: Actor = permit(READ_REFERENCE)) -> PolicyPublic:
    """What new cases are accepted under this year (a case keeps the policy it was accepted under)."""
    policy, year = settings.policy, local_date(datetime.now(UTC)).year
    return PolicyPublic(
        year=year,
        parameters=policy,
        temporary_bands={e: temporary_band(policy=policy, year=year, expense=e) for e in Expense},
        emergency_bands={c: emergency_band(policy=policy, year=year, cause=c) for c in Cause},
    )


@router.get("/dibao-standards", response_model=list[StandardChangePublic])
async def list_standards(
    db: DatabaseDep, user: Actor = permit(READ_REFERENCE)
) -> list[StandardChangePublic]:
    """The 低保 standards set from a month, the latest month first."""
    return [StandardChangePublic.model_validate(r) for r in await standards.listing(db=db)]


@router.post("/dibao-standards", response_model=StandardChangePublic, status_code=202)
async def set_standard(
    body: StandardChangeCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(SET_STANDARD),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> StandardChangePublic:
    """A new monthly 低保 standard per person from a month not yet paid: every 低保 and 特困
    household paid in that month gets its amount under it (特困 by its formula) on its course
    and trail, and is texted it — a page of the register at a time, in the background
    (``completed_at`` once done)."""
    row = await standards.set_standard(
        db=db, client=client, from_month=body.from_month, urban=body.urban, rural=body.rural,
        reasons=body.reasons, actor=user, task_queue=settings.task_queue,
        page_size=settings.standard_page_size,
    )  # fmt: skip
    return StandardChangePublic.model_validate(row)
