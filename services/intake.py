"""一门受理: intake of an application and of an emergency request. Each checks what it can
(``domain.intake``), then in one short transaction claims the household, numbers the case and
writes its first record, and only then starts the case's workflow."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlmodel import Session
from temporalio.client import Client

from domain.calendar import local_date
from domain.cases import (
    Actor,
    AssistanceType,
    AuditEntry,
    CaseStart,
    CaseView,
    Channel,
    Stage,
    check_holder,
    initial_view,
)
from domain.deadlines import DeadlineFacts, compute_deadlines
from domain.emergency import Emergency, EmergencyStart, EmergencyView, NextStep
from domain.errors import Conflict, NotFound, Unavailable
from domain.identity import mask_id_number
from domain.intake import (
    ApplicationIntake,
    EmergencyIntake,
    check_channel,
    check_expense,
    check_lives_within,
    check_place,
    check_requested_amount,
    check_residence,
)
from domain.policy import Policy
from domain.recipients import STANDING_TYPES, claim_of
from domain.sealing import KeyRing
from domain.townships import DISTRICT_CODE, Village
from services.cases import APPLICATIONS, EMERGENCIES, record_of, start_workflow
from services.referrals import end_deadline
from settings import Settings
from store import corrections, recipients, referrals, townships, watch
from store.calendar import load_calendar
from store.db import Database
from store.records import (
    DuplicateApplication,
    claim_household,
    open_case_for,
    start_of,
    write_new_case,
)
from store.reserve import recent_payout
from store.tables import CaseRecord, EmergencyRecord, RecipientRecord

log = structlog.get_logger()

EMERGENCY = "emergency"
"""The household claim of an open emergency: one at a time per family."""


async def accept_application(
    *, db: Database, client: Client, settings: Settings, user: Actor, application: ApplicationIntake
) -> CaseView:
    """一门受理 of an application: its deadlines count from now."""
    check_lives_within(user, application.village, who="applicant")
    check_channel(user, application.channel)
    check_expense(application.assistance_type, application.expense)
    start = await db.write(
        accept,
        application=application,
        user=user,
        accepted_at=datetime.now(UTC),
        policy=settings.policy,
        ring=settings.key_ring(),
    )
    await _started(
        db=db, client=client, kind=APPLICATIONS, start=start, task_queue=settings.task_queue,
        ring=settings.key_ring(),
    )  # fmt: skip
    log.info(
        "case.accepted",
        case_no=start.case_no,
        assistance_type=application.assistance_type,
        township=application.township,
        applicant=mask_id_number(start.applicant.id_number),
        user=user.user_id,
    )
    return initial_view(start)


def accept(
    session: Session,
    *,
    application: ApplicationIntake,
    user: Actor,
    accepted_at: datetime,
    policy: Policy,
    ring: KeyRing,
) -> CaseStart:
    """The application's first record and its household's claim, in one transaction; what
    its workflow starts from."""
    accepted_on = local_date(accepted_at)
    village = _place(session, township=application.township, village=application.village)
    hukou = application.hukou_township
    check_residence(
        application,
        hukou_in_district=hukou is None or townships.township_name(session, hukou) is not None,
        accepted_on=accepted_on,
        years=policy.residence_years,
    )
    applicant, household = application.applicant, application.household
    if application.bank_account:
        check_holder([applicant, *household], application.bank_account)
    people = [applicant.id_number, *(m.id_number for m in household)]
    case_no = _claim(
        session,
        kind=claim_of(application.assistance_type),
        id_numbers=people,
        year=accepted_on.year,
        what=f"{application.assistance_type} application",
        ring=ring,
    )
    start = CaseStart(
        case_no=case_no,
        assistance_type=application.assistance_type,
        township=application.township,
        village=application.village,
        area=village.area,
        channel=application.channel,
        applicant=applicant,
        household=household,
        reason=application.reason,
        accepted_at=accepted_at,
        accepted_by=user,
        policy=policy,
        deadlines=compute_deadlines(
            load_calendar(session), DeadlineFacts(accepted_on=accepted_on, policy=policy)
        ),
        hukou_township=hukou or application.township,
        resident_since=application.resident_since,
        expense=application.expense,
        conflict_of_interest=application.conflict_of_interest,
        bank_account=application.bank_account,
        recipient_no=recipients.recipient_of_family(session, id_numbers=people, ring=ring)
        if application.assistance_type not in STANDING_TYPES
        else None,
        dishonesty_flag=corrections.dishonesty_of_family(session, id_numbers=people, ring=ring),
        referral_no=application.referral_no,
        emergency_no=application.emergency_no,
    )
    _answers_referral(session, start.referral_no, township=start.township, case_no=case_no,
                      actor=user, at=accepted_at)  # fmt: skip
    note, conflict = application.reason, application.conflict_of_interest
    if conflict:
        note += f" | 近亲属备案: {conflict.relation} of {conflict.position}"
    if application.emergency_no:
        note += f" | from emergency {application.emergency_no}"
    entry = AuditEntry(
        case_no=case_no, seq=0, at=accepted_at, actor=user, action="accepted",
        from_stage=None, to_stage=Stage.survey, note=note,
    )  # fmt: skip
    write_new_case(session, view=initial_view(start), start=start, entry=entry, ring=ring)
    return start


async def accept_emergency(
    *, db: Database, client: Client, settings: Settings, user: Actor, request: EmergencyIntake
) -> EmergencyView:
    """急难: the 24 hours to payment count from now, holidays included."""
    check_lives_within(user, request.village, who="family")
    start = await db.write(
        _request,
        request=request,
        user=user,
        requested_at=datetime.now(UTC),
        policy=settings.policy,
        ring=settings.key_ring(),
    )
    await _started(
        db=db, client=client, kind=EMERGENCIES, start=start, task_queue=settings.task_queue,
        ring=settings.key_ring(),
    )  # fmt: skip
    log.info(
        "case.emergency_requested",
        case_no=start.case_no,
        cause=request.cause,
        township=request.township,
        applicant=mask_id_number(start.applicant.id_number),
        user=user.user_id,
    )
    return Emergency.requested(start).view


def _request(
    session: Session,
    *,
    request: EmergencyIntake,
    user: Actor,
    requested_at: datetime,
    policy: Policy,
    ring: KeyRing,
) -> EmergencyStart:
    _place(session, township=request.township, village=request.village)
    applicant, household = request.applicant, request.household
    members = [applicant.id_number, *(m.id_number for m in household)]
    check_holder([applicant, *household], request.bank_account)
    check_requested_amount(request.requested_amount, policy)
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
        township=request.township,
        village=request.village,
        channel=request.channel,
        cause=request.cause,
        applicant=applicant,
        household=household,
        bank_account=request.bank_account,
        requested_amount=request.requested_amount,
        situation=request.situation,
        requested_at=requested_at,
        requested_by=user,
        policy=policy,
        recent_payout=recent_payout(session, id_numbers=members, since=since, ring=ring),
        recipient_no=recipients.recipient_of_family(session, id_numbers=members, ring=ring),
        dishonesty_flag=corrections.dishonesty_of_family(session, id_numbers=members, ring=ring),
        referral_no=request.referral_no,
    )
    _answers_referral(session, start.referral_no, township=start.township, case_no=case_no,
                      actor=user, at=requested_at)  # fmt: skip
    view = Emergency.requested(start).view
    entry = AuditEntry(
        case_no=case_no, seq=0, at=requested_at, actor=user, action="requested",
        from_stage=None, to_stage=view.stage, note=f"{request.cause}: {request.situation}",
    )  # fmt: skip
    write_new_case(session, view=view, start=start, entry=entry, ring=ring)
    return start


@dataclass(frozen=True)
class NextStepTaken:
    """What an emergency's follow-up opened (衔接): the application (``case_no``, new or the
    household's open one it was linked to), or the watch-list entry."""

    case_no: str | None = None
    watch_entry_id: int | None = None
    linked: bool = False
    """The household already had an open case of the type (or is a recipient household):
    linked to it, not doubled."""


APPLICATION_STEPS = {
    NextStep.dibao_application: AssistanceType.dibao,
    NextStep.tekun_application: AssistanceType.tekun,
}


async def take_next_step(
    *, db: Database, client: Client, settings: Settings, user: Actor, emergency_no: str,
    next_step: NextStep,
) -> NextStepTaken:  # fmt: skip
    """衔接 (seed §5): after the district confirms an emergency's follow-up, the family's 低保
    or 特困 application opened (channel ``proactive``, naming the emergency), or the family
    put on the watch list. Taken again (a retried request) it finds what it did: the
    household's open application, the emergency's watch-list entry."""
    ring = settings.key_ring()
    if next_step == NextStep.watch_list:
        entry_id = await db.write(
            _watch_after_emergency, emergency_no=emergency_no, actor=user, at=datetime.now(UTC),
            policy=settings.policy, ring=ring,
        )  # fmt: skip
        return NextStepTaken(watch_entry_id=entry_id)
    assistance_type = APPLICATION_STEPS[next_step]
    start, opened = await db.read(
        _emergency_family, emergency_no=emergency_no, assistance_type=assistance_type, ring=ring
    )
    reason = f"急难型临时救助 {emergency_no} 补办确认后转入 ({start.cause}: {start.situation})"
    return await _proactive(
        db=db, client=client, settings=settings, user=user, start=start, opened=opened,
        assistance_type=assistance_type, reason=reason[:2000], emergency_no=emergency_no,
    )  # fmt: skip


async def open_for_family(
    *, db: Database, client: Client, settings: Settings, user: Actor, source: str,
    assistance_type: AssistanceType, reason: str,
) -> NextStepTaken:  # fmt: skip
    """主动发现: an application opened for the family whose intake ``source`` (a case, an
    emergency, or a recipient household's case) holds sealed — channel ``proactive``; a
    household with an open case of the type (or a recipient household) is linked to it."""
    start, opened = await db.read(
        _family_of, source=source, assistance_type=assistance_type, ring=settings.key_ring()
    )
    return await _proactive(
        db=db, client=client, settings=settings, user=user, start=start, opened=opened,
        assistance_type=assistance_type, reason=reason,
    )  # fmt: skip


async def _proactive(
    *, db: Database, client: Client, settings: Settings, user: Actor,
    start: CaseStart | EmergencyStart, opened: str | None, assistance_type: AssistanceType,
    reason: str, emergency_no: str | None = None,
) -> NextStepTaken:  # fmt: skip
    """主动发现: the family of ``start`` applies (channel ``proactive``), unless the household
    already has ``opened`` (a case of the type, or a recipient household): linked to it."""
    if opened is not None:
        return NextStepTaken(case_no=opened, linked=True)
    application = ApplicationIntake(
        assistance_type=assistance_type, township=start.township, village=start.village,
        channel=Channel.proactive, applicant=start.applicant, household=start.household,
        reason=reason, bank_account=start.bank_account, emergency_no=emergency_no,
    )  # fmt: skip
    view = await accept_application(
        db=db, client=client, settings=settings, user=user, application=application
    )
    return NextStepTaken(case_no=view.case_no)


def _family_of(
    session: Session, *, source: str, assistance_type: AssistanceType, ring: KeyRing
) -> tuple[CaseStart | EmergencyStart, str | None]:
    recipient = session.get(RecipientRecord, source)
    number = recipient.case_no if recipient else source
    row = session.get(CaseRecord, number) or session.get(EmergencyRecord, number)
    start = start_of(row, ring=ring) if row else None
    if start is None:
        raise NotFound(f"the family of {source} is not in the records")
    people = [start.applicant.id_number, *(m.id_number for m in start.household)]
    claimed = open_case_for(
        session, assistance_type=claim_of(assistance_type), id_numbers=people, ring=ring
    )
    return start, claimed


def _emergency_start(session: Session, *, emergency_no: str, ring: KeyRing) -> EmergencyStart:
    start = start_of(record_of(session, kind=EMERGENCIES, case_no=emergency_no), ring=ring)
    if start is None:
        raise Conflict(f"emergency {emergency_no} was accepted before intakes were kept with it")
    return start


def _emergency_family(
    session: Session, *, emergency_no: str, assistance_type: AssistanceType, ring: KeyRing
) -> tuple[EmergencyStart, str | None]:
    """The emergency's family, and the open case of the type (or the recipient household)
    that already claims one of them."""
    start = _emergency_start(session, emergency_no=emergency_no, ring=ring)
    people = [start.applicant.id_number, *(m.id_number for m in start.household)]
    claimed = open_case_for(
        session, assistance_type=claim_of(assistance_type), id_numbers=people, ring=ring
    )
    return start, claimed


def _watch_after_emergency(
    session: Session, *, emergency_no: str, actor: Actor, at: datetime, policy: Policy,
    ring: KeyRing,
) -> int:  # fmt: skip
    """The emergency's family on the watch list (once: keyed by the emergency and reason)."""
    start = _emergency_start(session, emergency_no=emergency_no, ring=ring)
    row = watch.add_entry(
        session, reason="after_emergency", source=emergency_no, township=start.township,
        village=start.village, name=start.applicant.name,
        id_number=mask_id_number(start.applicant.id_number), since=local_date(at),
        policy=policy, at=at, actor=actor,
    )  # fmt: skip
    return row.id


def _answers_referral(session: Session, referral_no: str | None, *, township: str, case_no: str,
                      actor: Actor, at: datetime) -> None:  # fmt: skip
    """部门转介: the referral the intake names has its outcome (application opened), in the
    intake's own transaction."""
    if referral_no is not None:
        referrals.open_from_intake(
            session, referral_no=referral_no, township=township, case_no=case_no, actor=actor,
            at=at,
        )  # fmt: skip


async def _started(
    *, db: Database, client: Client, kind, start: CaseStart | EmergencyStart, task_queue: str,
    ring: KeyRing,
) -> None:  # fmt: skip
    """The case's workflow started (its intake taken back if it cannot be, and the referral it
    answered open again); the referral's deadline ended."""
    try:
        await start_workflow(db=db, client=client, kind=kind, case_no=start.case_no,
                             start=start, task_queue=task_queue)  # fmt: skip
    except Unavailable:
        if start.referral_no:
            await db.write(referrals.reopen, referral_no=start.referral_no,
                           case_no=start.case_no, ring=ring)  # fmt: skip
        raise
    if start.referral_no:
        await end_deadline(client, start.referral_no, "application_opened")


def _place(session: Session, *, township: str, village: str) -> Village:
    """The village where the family lives, once it is one of the township's."""
    found = townships.village(session, village)
    check_place(
        township=township,
        village=village,
        township_name=townships.township_name(session, township),
        village_township=found[1] if found else None,
    )
    return found[0]


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
        if duplicate.case_no and recipients.is_recipient(session, duplicate.case_no):
            raise Conflict(
                f"a member of this household belongs to recipient household "
                f"{duplicate.case_no}: a person holds one standing benefit (低保 or 特困) at a "
                "time; a change of its benefit goes through its review"
            ) from None
        which = f"case {duplicate.case_no}" if duplicate.case_no else "it is being accepted now"
        raise Conflict(f"this household already has an open {what}: {which}") from None
