"""/calendar/{year}: the State Council's holiday notice, entered by the admin.

Publishing a year makes every running case count its deadlines again (its timers move):
applications, and emergencies in their follow-up. Days before today cannot be changed.
"""

from datetime import UTC, date, datetime

import structlog
from fastapi import APIRouter, Path
from sqlmodel import Session, and_, or_, select
from temporalio.service import RPCError

from api.deps import DatabaseDep, IdempotencyKey, SessionDep, TemporalDep
from api.models import CalendarYearPublic, CalendarYearPut
from api.permissions import PUBLISH_CALENDAR, READ_REFERENCE, PermittedRoute, permit
from domain.calendar import YearCalendar, check_past_unchanged, local_date
from domain.cases import CLOSED_STAGES, Actor, CalendarPublished, Stage
from domain.emergency import FOLLOWING_UP
from domain.errors import InvalidData
from store.calendar import load_calendar, packaged_years, publish_year
from store.tables import CalendarYear, CaseRecord, EmergencyRecord
from workflows.application import ApplicationWorkflow
from workflows.client import application_workflow_id, case_no_of, emergency_workflow_id
from workflows.emergency import EmergencyWorkflow

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
    """Enter or correct a year's notice. Days before today (Asia/Shanghai) keep their kind: a
    body that adds or removes a holiday or make-up working day before today is refused (422,
    naming the days). Every open case whose deadlines the year can move counts them again:
    applications, and emergencies in their follow-up (补办); a move is on its audit trail."""
    try:
        calendar = YearCalendar(year, frozenset(body.holidays), frozenset(body.workdays))
    except ValueError as bad:
        raise InvalidData("holidays", str(bad)) from None
    applications, emergencies = await db.write(_publish, calendar=calendar, user=user)
    published = CalendarPublished(years=[year])
    cases = [
        (ApplicationWorkflow.calendar_published, application_workflow_id(n)) for n in applications
    ]
    cases += [(EmergencyWorkflow.calendar_published, emergency_workflow_id(n)) for n in emergencies]
    for signal, workflow_id in cases:
        try:
            await client.get_workflow_handle(workflow_id).signal(signal, published)
        except RPCError as gone:  # closed since the list was read: nothing left to count
            log.info("calendar.case_skipped", case_no=case_no_of(workflow_id), reason=gone.message)
    recounted = len(applications) + len(emergencies)
    log.info("calendar.published", year=year, user=user.user_id, cases=recounted)
    return CalendarYearPublic(
        year=year,
        source="entered",
        holidays=sorted(calendar.holidays),
        workdays=sorted(calendar.workdays),
        cases_recomputed=recounted,
    )


def _publish(
    session: Session, *, calendar: YearCalendar, user: Actor
) -> tuple[list[str], list[str]]:
    """Enter the year, unless it changes a day before today; the applications whose deadlines
    are provisional or fall in that year (open ones, and refusals whose written notice is still
    due), and the emergencies whose follow-up does."""
    now = datetime.now(UTC)
    check_past_unchanged(load_calendar(session), calendar, today=local_date(now))
    publish_year(session, calendar=calendar, published_by=user.user_id, at=now)
    first_day = date(calendar.year, 1, 1)
    c = CaseRecord
    applications = session.exec(
        select(c.case_no).where(
            or_(
                and_(
                    c.stage.not_in([s.value for s in CLOSED_STAGES]),
                    or_(c.provisional, c.decision_due >= first_day),
                ),
                # a refusal whose written notice is still due
                and_(
                    c.stage == Stage.refused.value,
                    c.refusal_notified_at.is_(None),
                    c.refusal_notice_due >= first_day,
                ),
            )
        )
    )
    emergencies = session.exec(
        select(EmergencyRecord.case_no).where(
            EmergencyRecord.stage.in_([s.value for s in FOLLOWING_UP]),
            EmergencyRecord.follow_up_due >= first_day,
        )
    )
    return list(applications), list(emergencies)
