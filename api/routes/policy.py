"""/policy: the parameters in force (standards, bands, limits, deadlines), for caseworkers."""

from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import SettingsDep
from api.permissions import READ_REFERENCE, PermittedRoute, permit
from domain.amounts import emergency_band, temporary_band
from domain.calendar import local_date
from domain.cases import Actor
from domain.emergency import Cause
from domain.policy import Policy

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
        temporary_bands={
            e: temporary_band(policy=policy, year=year, expense=e)
            for e in ("major_illness", "education")
        },
        emergency_bands={c: emergency_band(policy=policy, year=year, cause=c) for c in Cause},
    )
