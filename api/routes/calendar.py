"""/calendar/{year}: the State Council's holiday notice, entered by the admin.

Publishing a year makes every running case count its deadlines again (its timers move):
applications, and emergencies in their follow-up. Days before today cannot be changed.
"""

from fastapi import APIRouter, Path

from api.deps import DatabaseDep, IdempotencyKey, TemporalDep
from api.models import CalendarYearPublic, CalendarYearPut
from api.permissions import PUBLISH_CALENDAR, READ_REFERENCE, PermittedRoute, permit
from domain.cases import Actor
from services import calendar

router = APIRouter(prefix="/calendar", tags=["calendar"], route_class=PermittedRoute)

Year = Path(ge=2000, le=2100)


@router.get("/{year}", response_model=CalendarYearPublic)
async def get_year(
    db: DatabaseDep, year: int = Year, user: Actor = permit(READ_REFERENCE)
) -> CalendarYearPublic:
    return CalendarYearPublic.model_validate(await calendar.year(db=db, year=year))


@router.put("/{year}", response_model=CalendarYearPublic)
async def put_year(
    body: CalendarYearPut,
    db: DatabaseDep,
    client: TemporalDep,
    year: int = Year,
    user: Actor = permit(PUBLISH_CALENDAR),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> CalendarYearPublic:
    """Enter or correct a year's notice. Days before today (Asia/Shanghai) keep their kind: a
    body that adds or removes a holiday or make-up working day before today is refused (422,
    naming the days). Every open case whose deadlines the year can move counts them again:
    applications, and emergencies in their follow-up (补办); a move is on its audit trail."""
    published = await calendar.publish(
        db=db, client=client, user=user, year=year, holidays=body.holidays, workdays=body.workdays
    )
    return CalendarYearPublic.model_validate(published)
