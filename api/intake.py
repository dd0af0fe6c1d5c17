"""一门受理: intake of an application and of an emergency request. Each checks what it can, then
in one short transaction claims the household, numbers the case and writes its first record,
and only then starts the case's workflow."""

from datetime import UTC, date, datetime, timedelta

import structlog
from sqlmodel import Session
from temporalio.client import Client

from api.cases import APPLICATIONS, EMERGENCIES, check_place, start_workflow
from api.models import ApplicationCreate, EmergencyCreate
from domain.calendar import local_date, whole_years
from domain.cases import (
    Actor,
    Applicant,
    AuditEntry,
    BankAccount,
    CaseStart,
    CaseView,
    Channel,
    ConflictOfInterest,
    HouseholdMember,
    Role,
    Stage,
    check_holder,
    initial_view,
)
from domain.deadlines import DeadlineFacts, compute_deadlines
from domain.emergency import Emergency, EmergencyStart, EmergencyView
from domain.errors import Conflict, InvalidData, NotPermitted
from domain.identity import mask_id_number
from domain.policy import Policy
from domain.sealing import KeyRing
from domain.townships import DISTRICT_CODE, covers
from settings import Settings
from store.calendar import load_calendar
from store.db import Database
from store.records import DuplicateApplication, claim_household, write_new_case
from store.reserve import recent_payout
from store.tables import TownshipRow
from workflows.application import ApplicationWorkflow
from workflows.emergency import EmergencyWorkflow

log = structlog.get_logger()

EMERGENCY = "emergency"
"""The household claim of an open emergency: one at a time per family."""


def _check_residence(
    session: Session, *, body: ApplicationCreate, accepted_on: date, years: int
) -> None:
    """人户分离: apply where one lives, with district 户籍 and enough years of residence."""
    hukou = body.hukou_township or body.township
    if hukou == body.township:
        return
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


def _claim(
    session: Session, *, kind: str, id_numbers: list[str], year: int, what: str, ring: KeyRing
) -> str:
    try:
        return claim_household(
            session,
            assistance_type=kind,
            id_numbers=id_numbers,
            district=DISTRICT_CODE,
            year=year,
            ring=ring,
        )
    except DuplicateApplication as duplicate:
        which = f"case {duplicate.case_no}" if duplicate.case_no else "it is being accepted now"
        raise Conflict(f"this household already has an open {what}: {which}") from None


def _accept(
    session: Session,
    *,
    body: ApplicationCreate,
    user: Actor,
    accepted_at: datetime,
    policy: Policy,
    ring: KeyRing,
) -> CaseStart:
    accepted_on = local_date(accepted_at)
    village = check_place(session, township=body.township, village=body.village)
    _check_residence(session, body=body, accepted_on=accepted_on, years=policy.residence_years)
    applicant = Applicant(**body.applicant.model_dump())
    household = [HouseholdMember(**m.model_dump()) for m in body.household]
    if body.bank_account:
        check_holder([applicant, *household], BankAccount(**body.bank_account.model_dump()))
    case_no = _claim(
        session,
        kind=body.assistance_type,
        id_numbers=[applicant.id_number, *(m.id_number for m in household)],
        year=accepted_on.year,
        what=f"{body.assistance_type} application",
        ring=ring,
    )
    conflict, account = body.conflict_of_interest, body.bank_account
    start = CaseStart(
        case_no=case_no,
        assistance_type=body.assistance_type,
        township=body.township,
        village=body.village,
        area=village.area,
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
        bank_account=BankAccount(**account.model_dump()) if account else None,
    )
    note = body.reason
    if conflict:
        note += f" | 近亲属备案: {conflict.relation} of {conflict.position}"
    entry = AuditEntry(
        case_no=case_no, seq=0, at=accepted_at, actor=user, action="accepted",
        from_stage=None, to_stage=Stage.survey, note=note,
    )  # fmt: skip
    write_new_case(session, view=initial_view(start), start=start, entry=entry, ring=ring)
    return start


async def accept_application(
    *, db: Database, client: Client, settings: Settings, user: Actor, body: ApplicationCreate
) -> CaseView:
    """一门受理 of an application: its deadlines count from now."""
    if not covers(user.jurisdiction, body.village):
        raise NotPermitted("the applicant lives outside your jurisdiction")
    if user.role == Role.village_coordinator and body.channel == Channel.walk_in:
        raise InvalidData(
            "channel", "a village coordinator submits referrals or proactive discoveries"
        )
    if body.assistance_type == "temporary" and body.expense is None:
        raise InvalidData("expense", "temporary assistance names its expenditure")
    start = await db.write(
        _accept,
        body=body,
        user=user,
        accepted_at=datetime.now(UTC),
        policy=settings.policy,
        ring=settings.key_ring(),
    )
    await start_workflow(
        db=db,
        client=client,
        kind=APPLICATIONS,
        case_no=start.case_no,
        run=ApplicationWorkflow.run,
        start=start,
        task_queue=settings.task_queue,
    )
    log.info(
        "case.accepted",
        case_no=start.case_no,
        assistance_type=body.assistance_type,
        township=body.township,
        applicant=mask_id_number(start.applicant.id_number),
        user=user.user_id,
    )
    return initial_view(start)


def _request(
    session: Session,
    *,
    body: EmergencyCreate,
    user: Actor,
    requested_at: datetime,
    policy: Policy,
    ring: KeyRing,
) -> EmergencyStart:
    check_place(session, township=body.township, village=body.village)
    applicant = Applicant(**body.applicant.model_dump())
    household = [HouseholdMember(**m.model_dump()) for m in body.household]
    members = [applicant.id_number, *(m.id_number for m in household)]
    account = BankAccount(**body.bank_account.model_dump())
    check_holder([applicant, *household], account)
    if body.requested_amount > policy.payment_ceiling:
        raise InvalidData(
            "requested_amount", f"no single payment exceeds ¥{policy.payment_ceiling}"
        )
    case_no = _claim(
        session,
        kind=EMERGENCY,
        id_numbers=members,
        year=local_date(requested_at).year,
        what="emergency request",
        ring=ring,
    )
    since = requested_at - timedelta(days=policy.emergency_repeat_days)
    start = EmergencyStart(
        case_no=case_no,
        township=body.township,
        village=body.village,
        channel=body.channel,
        cause=body.cause,
        applicant=applicant,
        household=household,
        bank_account=account,
        requested_amount=body.requested_amount,
        situation=body.situation,
        requested_at=requested_at,
        requested_by=user,
        policy=policy,
        recent_payout=recent_payout(session, id_numbers=members, since=since, ring=ring),
    )
    view = Emergency.requested(start).view
    entry = AuditEntry(
        case_no=case_no, seq=0, at=requested_at, actor=user, action="requested",
        from_stage=None, to_stage=view.stage, note=f"{body.cause}: {body.situation}",
    )  # fmt: skip
    write_new_case(session, view=view, start=start, entry=entry, ring=ring)
    return start


async def accept_emergency(
    *, db: Database, client: Client, settings: Settings, user: Actor, body: EmergencyCreate
) -> EmergencyView:
    """急难: the 24 hours to payment count from now, holidays included."""
    if not covers(user.jurisdiction, body.village):
        raise NotPermitted("the family lives outside your jurisdiction")
    start = await db.write(
        _request,
        body=body,
        user=user,
        requested_at=datetime.now(UTC),
        policy=settings.policy,
        ring=settings.key_ring(),
    )
    await start_workflow(
        db=db,
        client=client,
        kind=EMERGENCIES,
        case_no=start.case_no,
        run=EmergencyWorkflow.run,
        start=start,
        task_queue=settings.task_queue,
    )
    log.info(
        "case.emergency_requested",
        case_no=start.case_no,
        cause=body.cause,
        township=body.township,
        applicant=mask_id_number(start.applicant.id_number),
        user=user.user_id,
    )
    return Emergency.requested(start).view
