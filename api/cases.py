"""Services behind the case routes: intake, looking a case up within a jurisdiction, and
carrying an action to the case's workflow."""

from datetime import date, datetime, timedelta, timezone

import structlog
from fastapi import HTTPException, status
from sqlmodel import Session
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.models import ApplicationCreate
from domain.calendar import local_date, whole_years
from domain.cases import (
    Actor,
    Applicant,
    AuditEntry,
    CaseStart,
    CaseView,
    Channel,
    ConflictOfInterest,
    HouseholdMember,
    Role,
    Stage,
    initial_view,
)
from domain.deadlines import DeadlineFacts, compute_deadlines
from domain.identity import mask_id_number
from domain.townships import DISTRICT_CODE, covers
from settings import Settings
from store.calendar import load_calendar
from store.records import DuplicateApplication, accept_case, discard_case, next_case_no, view_of
from store.tables import CaseRecord, TownshipRow, VillageRow
from workflows.application import ApplicationWorkflow
from workflows.client import application_workflow_id
from workflows.errors import INVALID_DATA, NOT_PERMITTED, WRONG_STAGE

log = structlog.get_logger()


def unprocessable(field: str, message: str) -> HTTPException:
    """422 in FastAPI's own shape, naming the field."""
    return HTTPException(
        422,
        [{"loc": ["body", *field.split(".")], "msg": message, "type": "value_error"}],
    )


def check_residence(session: Session, *, body: ApplicationCreate, accepted_on: date, years: int) -> None:
    township = session.get(TownshipRow, body.township)
    if township is None:
        raise unprocessable("township", f"{body.township} is not a township of the district")
    village = session.get(VillageRow, body.village)
    if village is None or village.township_code != township.code:
        raise unprocessable("village", f"{body.village} is not a village of {township.name}")
    hukou = body.hukou_township or body.township
    if hukou == body.township:
        return
    # 人户分离: apply where one lives, with district 户籍 and enough years of residence.
    if session.get(TownshipRow, hukou) is None:
        raise unprocessable(
            "hukou_township", "applying away from one's 户籍 needs 户籍 in a township of this district"
        )
    if body.resident_since is None:
        raise unprocessable("resident_since", "say since when the applicant has lived here")
    if whole_years(body.resident_since, accepted_on) < years:
        raise unprocessable(
            "resident_since",
            f"applying where one lives needs {years} years of residence there; "
            "apply in the 户籍 township instead",
        )


async def accept_application(
    *, session: Session, client: Client, settings: Settings, user: Actor, body: ApplicationCreate
) -> CaseView:
    """一门受理: validate, claim the household, write the first record, start the workflow."""
    if not covers(user.jurisdiction, body.village):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the applicant lives outside your jurisdiction")
    if user.role == Role.village_coordinator and body.channel == Channel.walk_in:
        raise unprocessable("channel", "a village coordinator submits referrals or proactive discoveries")
    if body.assistance_type == "temporary" and body.expense is None:
        raise unprocessable("expense", "temporary assistance names its expenditure")
    accepted_at = datetime.now(timezone.utc)
    accepted_on = local_date(accepted_at)
    check_residence(
        session, body=body, accepted_on=accepted_on, years=settings.policy.residence_years
    )
    policy = settings.policy
    case_no = next_case_no(session, district=DISTRICT_CODE, year=accepted_on.year)
    deadlines = compute_deadlines(
        load_calendar(session), DeadlineFacts(accepted_on=accepted_on, policy=policy)
    )
    township = session.get(TownshipRow, body.township)
    start = CaseStart(
        case_no=case_no,
        assistance_type=body.assistance_type,
        township=body.township,
        village=body.village,
        area=township.area,
        channel=body.channel,
        applicant=Applicant(**body.applicant.model_dump()),
        household=[HouseholdMember(**m.model_dump()) for m in body.household],
        reason=body.reason,
        accepted_at=accepted_at,
        accepted_by=user,
        policy=policy,
        deadlines=deadlines,
        hukou_township=body.hukou_township or body.township,
        resident_since=body.resident_since,
        expense=body.expense,
        conflict_of_interest=ConflictOfInterest(**body.conflict_of_interest.model_dump())
        if body.conflict_of_interest
        else None,
    )
    view = initial_view(start)
    note = body.reason
    if start.conflict_of_interest:
        note += f" | 近亲属备案: {start.conflict_of_interest.relation} of {start.conflict_of_interest.position}"
    entry = AuditEntry(
        case_no=case_no, seq=0, at=accepted_at, actor=user, action="accepted",
        from_stage=None, to_stage=Stage.survey, note=note,
    )
    try:
        accept_case(session, start=start, view=view, entry=entry)
    except DuplicateApplication as duplicate:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"this household already has an open {body.assistance_type} application: "
            f"case {duplicate.case_no}",
        ) from None
    session.commit()
    try:
        await client.start_workflow(
            ApplicationWorkflow.run,
            start,
            id=application_workflow_id(case_no),
            task_queue=settings.task_queue,
        )
    except Exception:
        discard_case(session, case_no=case_no)
        session.commit()
        log.exception("case.start_failed", case_no=case_no)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the case engine is unavailable; nothing was saved, try again"
        ) from None
    log.info(
        "case.accepted",
        case_no=case_no,
        assistance_type=body.assistance_type,
        township=body.township,
        applicant=mask_id_number(start.applicant.id_number),
        user=user.user_id,
    )
    return view


def case_in_jurisdiction(session: Session, *, case_no: str, user: Actor) -> CaseRecord:
    """The case, or 404 when it does not exist or lies outside the user's jurisdiction."""
    row = session.get(CaseRecord, case_no)
    if row is None or not covers(user.jurisdiction, row.village):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_no} in your jurisdiction")
    return row


async def current_view(client: Client, row: CaseRecord, *, timeout: timedelta) -> CaseView:
    """The live case from its workflow; the last projection if the workflow cannot answer
    in time (no worker running, say): the projection is written at every transition."""
    handle = client.get_workflow_handle_for(ApplicationWorkflow.run, application_workflow_id(row.case_no))
    try:
        return await handle.query(ApplicationWorkflow.current, rpc_timeout=timeout)
    except (RPCError, WorkflowQueryFailedError) as unanswered:
        log.warning("case.query_unanswered", case_no=row.case_no, reason=str(unanswered))
        return view_of(row)


_STATUS = {WRONG_STAGE: 409, INVALID_DATA: 422, NOT_PERMITTED: 403}


async def act(
    *,
    client: Client,
    row: CaseRecord,
    update,  # noqa: ANN001
    record,  # noqa: ANN001
    idempotency_key: str | None,
    timeout: timedelta,
) -> CaseView:
    """Carry one caseworker action to the workflow as an Update.

    The Idempotency-Key becomes the Update ID, so Temporal itself drops a repeated action,
    and a retry after a time-out finds the first attempt's outcome.
    """
    handle = client.get_workflow_handle_for(ApplicationWorkflow.run, application_workflow_id(row.case_no))
    try:
        return await handle.execute_update(update, record, id=idempotency_key, rpc_timeout=timeout)
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        if isinstance(cause, ApplicationError) and cause.type in _STATUS:
            code = _STATUS[cause.type]
            if code == 422:
                field = cause.details[0]["field"] if cause.details else "body"
                raise unprocessable(field, cause.message) from None
            raise HTTPException(code, cause.message) from None
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"case {row.case_no} did not answer in time; retry with the same Idempotency-Key "
            "to get the outcome without acting twice",
        ) from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"case {row.case_no} is closed (stage '{row.stage}')"
            ) from None
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "the case engine is unavailable; try again"
            ) from None
        raise


def cases_filter(query, *, user: Actor):  # noqa: ANN001, ANN201
    """Only what the user's jurisdiction covers."""
    if user.jurisdiction == DISTRICT_CODE:
        return query
    return query.where(CaseRecord.village.startswith(user.jurisdiction))

