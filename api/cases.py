"""Services behind the case routes: intake, looking a case up within a jurisdiction, and
carrying an action to the case's workflow. They raise ``domain.errors``; ``api.errors`` turns
them into answers. Database work runs in short transactions off the event loop (``Database``)."""

from datetime import UTC, date, datetime, timedelta

import structlog
from fastapi import HTTPException, status
from sqlmodel import Session
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import from_workflow
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
from domain.errors import Conflict, InvalidData, NotFound, NotPermitted, WrongStage
from domain.identity import mask_id_number
from domain.policy import Policy
from domain.townships import DISTRICT_CODE, covers, jurisdiction_level
from settings import Settings
from store.calendar import load_calendar
from store.db import Database
from store.records import (
    DuplicateApplication,
    claim_household,
    discard_case,
    halt_case,
    view_of,
    write_new_case,
)
from store.tables import CaseRecord, TownshipRow, VillageRow
from workflows.application import ApplicationWorkflow
from workflows.client import HALTED_STATUSES, application_workflow_id

log = structlog.get_logger()


def check_residence(
    session: Session, *, body: ApplicationCreate, accepted_on: date, years: int
) -> TownshipRow:
    """The township where the applicant applies, once the village and the 户籍 rule hold."""
    township = session.get(TownshipRow, body.township)
    if township is None:
        raise InvalidData("township", f"{body.township} is not a township of the district")
    village = session.get(VillageRow, body.village)
    if village is None or village.township_code != township.code:
        raise InvalidData("village", f"{body.village} is not a village of {township.name}")
    hukou = body.hukou_township or body.township
    if hukou == body.township:
        return township
    # 人户分离: apply where one lives, with district 户籍 and enough years of residence.
    if session.get(TownshipRow, hukou) is None:
        raise InvalidData(
            "hukou_township",
            "applying away from one's 户籍 needs 户籍 in a township of this district",
        )
    if body.resident_since is None:
        raise InvalidData("resident_since", "say since when the applicant has lived here")
    if whole_years(body.resident_since, accepted_on) < years:
        raise InvalidData(
            "resident_since",
            f"applying where one lives needs {years} years of residence there; "
            "apply in the 户籍 township instead",
        )
    return township


def _accept(
    session: Session, *, body: ApplicationCreate, user: Actor, accepted_at: datetime, policy: Policy
) -> CaseStart:
    """In one short transaction: check, claim the household, number the case, write its first
    record. Nothing is written unless all of it is."""
    accepted_on = local_date(accepted_at)
    township = check_residence(
        session, body=body, accepted_on=accepted_on, years=policy.residence_years
    )
    applicant = Applicant(**body.applicant.model_dump())
    household = [HouseholdMember(**m.model_dump()) for m in body.household]
    try:
        case_no = claim_household(
            session,
            assistance_type=body.assistance_type,
            id_numbers=[applicant.id_number, *(m.id_number for m in household)],
            district=DISTRICT_CODE,
            year=accepted_on.year,
        )
    except DuplicateApplication as duplicate:
        which = f"case {duplicate.case_no}" if duplicate.case_no else "it is being accepted now"
        raise Conflict(
            f"this household already has an open {body.assistance_type} application: {which}"
        ) from None
    conflict = body.conflict_of_interest
    start = CaseStart(
        case_no=case_no,
        assistance_type=body.assistance_type,
        township=body.township,
        village=body.village,
        area=township.area,
        channel=body.channel,
        applicant=applicant,
        household=household,
        reason=body.reason,
        accepted_at=accepted_at,
        accepted_by=user,
        policy=policy,
        deadlines=compute_deadlines(
            load_calendar(session), DeadlineFacts(accepted_on=accepted_on, policy=policy)
        ),
        hukou_township=body.hukou_township or body.township,
        resident_since=body.resident_since,
        expense=body.expense,
        conflict_of_interest=ConflictOfInterest(**conflict.model_dump()) if conflict else None,
    )
    note = body.reason
    if conflict:
        note += f" | 近亲属备案: {conflict.relation} of {conflict.position}"
    entry = AuditEntry(
        case_no=case_no, seq=0, at=accepted_at, actor=user, action="accepted",
        from_stage=None, to_stage=Stage.survey, note=note,
    )  # fmt: skip
    write_new_case(session, start=start, view=initial_view(start), entry=entry)
    return start


async def accept_application(
    *, db: Database, client: Client, settings: Settings, user: Actor, body: ApplicationCreate
) -> CaseView:
    """一门受理: validate, claim the household, write the first record, start the workflow."""
    if not covers(user.jurisdiction, body.village):
        raise NotPermitted("the applicant lives outside your jurisdiction")
    if user.role == Role.village_coordinator and body.channel == Channel.walk_in:
        raise InvalidData(
            "channel", "a village coordinator submits referrals or proactive discoveries"
        )
    if body.assistance_type == "temporary" and body.expense is None:
        raise InvalidData("expense", "temporary assistance names its expenditure")
    start = await db.write(
        _accept, body=body, user=user, accepted_at=datetime.now(UTC), policy=settings.policy
    )
    workflow_id = application_workflow_id(start.case_no)
    try:
        await client.start_workflow(
            ApplicationWorkflow.run, start, id=workflow_id, task_queue=settings.task_queue
        )
    except Exception as failed:
        log.exception("case.start_failed", case_no=start.case_no)
        # A start whose answer was lost may still have taken effect; an existing workflow of
        # that id from before is another case's, and this one is not kept.
        if isinstance(failed, WorkflowAlreadyStartedError) or not await _started(
            client, workflow_id
        ):
            await db.write(discard_case, case_no=start.case_no)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the case engine is unavailable; nothing was saved, try again",
            ) from None
    log.info(
        "case.accepted",
        case_no=start.case_no,
        assistance_type=body.assistance_type,
        township=body.township,
        applicant=mask_id_number(start.applicant.id_number),
        user=user.user_id,
    )
    return initial_view(start)


async def _started(client: Client, workflow_id: str) -> bool:
    """Whether a start whose answer was lost took effect (then the case must be kept)."""
    try:
        await client.get_workflow_handle(workflow_id).describe()
        return True
    except RPCError:
        return False


def case_in_jurisdiction(session: Session, *, case_no: str, user: Actor) -> CaseRecord:
    """The case, or ``NotFound`` when it does not exist or lies outside the user's jurisdiction."""
    row = session.get(CaseRecord, case_no)
    if row is None or not covers(user.jurisdiction, row.village):
        raise NotFound(f"no case {case_no} in your jurisdiction")
    return row


async def current_view(client: Client, row: CaseRecord, *, timeout: timedelta) -> CaseView:
    """The live case from its workflow; the last projection if the workflow cannot answer
    in time (no worker running, say): the projection is written at every transition."""
    if row.stage == Stage.halted:
        return view_of(row)
    handle = client.get_workflow_handle_for(
        ApplicationWorkflow.run, application_workflow_id(row.case_no)
    )
    try:
        return await handle.query(ApplicationWorkflow.current, rpc_timeout=timeout)
    except (RPCError, WorkflowQueryFailedError) as unanswered:
        log.warning("case.query_unanswered", case_no=row.case_no, reason=str(unanswered))
        return view_of(row)


async def act(
    *,
    client: Client,
    db: Database,
    row: CaseRecord,
    update,
    record,
    idempotency_key: str | None,
    timeout: timedelta,
) -> CaseView:
    """Carry one caseworker action to the workflow as an Update.

    The Idempotency-Key becomes the Update ID, so Temporal itself drops a repeated action,
    and a retry after a time-out finds the first attempt's outcome.
    """
    handle = client.get_workflow_handle_for(
        ApplicationWorkflow.run, application_workflow_id(row.case_no)
    )
    try:
        return await handle.execute_update(update, record, id=idempotency_key, rpc_timeout=timeout)
    except WorkflowUpdateFailedError as failed:
        if refusal := from_workflow(failed.cause):
            raise refusal from None
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"case {row.case_no} did not answer in time; retry with the same Idempotency-Key "
            "to get the outcome without acting twice",
        ) from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise await _not_running(client, db, row) from None
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "the case engine is unavailable; try again"
            ) from None
        raise


async def _not_running(client: Client, db: Database, row: CaseRecord) -> WrongStage:
    """Why the case's workflow takes no action: the procedure ended, or the engine halted it
    (then the records say so from now on, and the household may apply again)."""
    try:
        described = await client.get_workflow_handle(
            application_workflow_id(row.case_no)
        ).describe()
    except RPCError:
        described = None
    if described is None or described.status not in HALTED_STATUSES:
        return WrongStage(f"case {row.case_no} is closed (stage '{row.stage}')")
    how = described.status.name.lower()
    at = described.close_time or datetime.now(UTC)
    await db.write(halt_case, case_no=row.case_no, status=how, at=at)
    log.warning("case.halted", case_no=row.case_no, status=how)
    return WrongStage(
        f"case {row.case_no} was halted by the case engine ({how}); a supervisor must restart "
        "or close it, and the household may apply again"
    )


def cases_filter(query, *, user: Actor):
    """Only what the user's jurisdiction covers, by exact code: never a pattern."""
    level = jurisdiction_level(user.jurisdiction)  # tokens without one are refused at sign-in
    if level == "district":
        return query
    column = CaseRecord.township if level == "township" else CaseRecord.village
    return query.where(column == user.jurisdiction)
