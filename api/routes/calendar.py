"""/calendar/{year}: the State Council's holiday notice, entered by the admin.

Publishing a year makes every running case count its deadlines again (its timers move).
"""

from datetime import UTC, date, datetime

import structlog
from fastapi import APIRouter, Path
from sqlmodel import Session, or_, select
from temporalio.service import RPCError

from api.deps import DatabaseDep, IdempotencyKey, SessionDep, TemporalDep
from api.models import CalendarYearPublic, CalendarYearPut
from api.permissions import PUBLISH_CALENDAR, READ_REFERENCE, PermittedRoute, permit
from domain.calendar import YearCalendar
from domain.cases import CLOSED_STAGES, Actor, CalendarPublished
from domain.errors import InvalidData
from store.calendar import load_calendar, packaged_years, publish_year
from store.tables import CalendarYear, CaseRecord
from workflows.application import ApplicationWorkflow
from workflows.client import application_workflow_id

router = APIRouter(prefix="/calendar", tags=["calendar"], route_class=PermittedRoute)
log = structlog.get_logger()

Year = Path(ge=2000, le=2100)


@router.get("/{year}", response_model=CalendarYearPublic)
def get_year(
    session: SessionDep, year: int = Year, user: Actor = permit(READ_REFERENCE)
) -> CalendarYearPublic:
    published = load_calendar(session).years.get(year)
    if session.get(CalendarYear, year):
        source = "entered"
    elif year in packaged_years():
        source = "package"
    else:
        source = "unpublished"
    return CalendarYearPublic(
        year=year,
        source=source,
        holidays=sorted(published.holidays) if published else [],
        workdays=sorted(published.workdays) if published else [],
    )


@router.put("/{year}", response_model=CalendarYearPublic)
async def put_year(
    body: CalendarYearPut,
    db: DatabaseDep,
    client: TemporalDep,
    year: int = Year,
    user: Actor = permit(PUBLISH_CALENDAR),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> CalendarYearPublic:
    try:
        calendar = YearCalendar(year, frozenset(body.holidays), frozenset(body.workdays))
    except ValueError as bad:
        raise InvalidData("holidays", str(bad)) from None
    open_cases = await db.write(_publish, calendar=calendar, user=user)
    for case_no in open_cases:
        handle = client.get_workflow_handle_for(
            ApplicationWorkflow.run, application_workflow_id(case_no)
        )
        try:
            await handle.signal(
                ApplicationWorkflow.calendar_published, CalendarPublished(years=[year])
            )
        except RPCError as gone:  # closed since the list was read: nothing left to count
            log.info("calendar.case_skipped", case_no=case_no, reason=gone.message)
    log.info("calendar.published", year=year, user=user.user_id, cases=len(open_cases))
    return CalendarYearPublic(
        year=year,
        source="entered",
        holidays=sorted(calendar.holidays),
        workdays=sorted(calendar.workdays),
        cases_recomputed=len(open_cases),
    )


def _publish(session: Session, *, calendar: YearCalendar, user: Actor) -> list[str]:
    """Enter the year; the open cases whose dates are provisional or fall in that year."""
    publish_year(session, calendar=calendar, published_by=user.user_id, at=datetime.now(UTC))
    return list(
        session.exec(
            select(CaseRecord.case_no).where(
                CaseRecord.stage.not_in([s.value for s in CLOSED_STAGES]),
                or_(CaseRecord.provisional, CaseRecord.decision_due >= date(calendar.year, 1, 1)),
            )
        )
    )
