"""/referrals: referrals from other departments (部门转介) — filed by a department liaison (or a
district officer recording one), routed to the family's township, verified there within the
deadline, the outcome read back by the department."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import Page, ReferralCreate, ReferralOutcomeCreate, ReferralPublic
from api.permissions import (
    FILE_REFERRAL,
    LIST_REFERRALS,
    READ_REFERRAL,
    RECORD_REFERRAL_OUTCOME,
    PermittedRoute,
    permit,
)
from domain.cases import Actor
from domain.referrals import OutcomeRecord, Situation, Status
from services import referrals
from store.referrals import Family

router = APIRouter(prefix="/referrals", tags=["referrals"], route_class=PermittedRoute)

ReferralNo = Annotated[
    str,
    Path(
        max_length=40, pattern=r"^[0-9A-Za-z-]+$", description="转介号, e.g. 370305-ZJ2026-000001"
    ),
]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ReferralPublic)
async def file_referral(
    body: ReferralCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(FILE_REFERRAL),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> ReferralPublic:
    """A family a department found in hardship: routed to its village's township, to be
    verified within `verify_by` (working days, on the holiday calendar). A family with an open
    case or a recipient household is linked to it (`linked_case`, `linked_recipient`, outcome
    `already_assisted`); one already referred and open, to that referral (`linked_referral`)."""
    family = body.family
    shown = await referrals.file(
        db=db, client=client, user=user, department=body.department, situation=body.situation,
        family=Family(family.name, family.id_number, family.phone), village=body.village,
        note=body.note, policy=settings.policy, ring=settings.key_ring(),
        task_queue=settings.task_queue,
    )  # fmt: skip
    return ReferralPublic.of(shown, user.role)


@router.get("", response_model=Page[ReferralPublic])
async def list_referrals(
    db: DatabaseDep,
    user: Actor = permit(LIST_REFERRALS),
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    status: Status | None = None,
    situation: Situation | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ReferralPublic]:
    """A township's inbox (its caseworkers), a department's referrals (its liaison: its own
    only), the district's; newest first, ID and phone numbers masked."""
    listed = await referrals.listing(
        db=db, user=user,
        equal={"township": township, "status": status, "situation": situation},
        page=page, page_size=page_size,
    )  # fmt: skip
    return Page[ReferralPublic].of(listed, lambda s: ReferralPublic.of(s, user.role))


@router.get("/{referral_no}", response_model=ReferralPublic)
async def get_referral(
    referral_no: ReferralNo,
    db: DatabaseDep,
    settings: SettingsDep,
    user: Actor = permit(READ_REFERRAL),
) -> ReferralPublic:
    """The referral: the family's numbers in full to the caseworkers who verify it."""
    shown = await referrals.read(
        db=db, user=user, referral_no=referral_no, ring=settings.key_ring()
    )
    return ReferralPublic.of(shown, user.role)


@router.post("/{referral_no}/outcome", response_model=ReferralPublic)
async def record_outcome(
    referral_no: ReferralNo,
    body: ReferralOutcomeCreate,
    db: DatabaseDep,
    client: TemporalDep,
    user: Actor = permit(RECORD_REFERRAL_OUTCOME),
    _key: IdempotencyKey = None,
) -> ReferralPublic:
    """The township's finding, told back to the department: `not_eligible` (reasons),
    `already_assisted` (the `case_no` or `recipient_no` assisting the family),
    `referred_elsewhere` (`referred_to`: the department, and why). An application or emergency
    request naming the referral sets `application_opened` by itself."""
    record = OutcomeRecord(actor=user, **body.model_dump())
    shown = await referrals.record_outcome(
        db=db, client=client, referral_no=referral_no, record=record
    )
    return ReferralPublic.of(shown, user.role)
