"""/recipients: the register of recipient households (建档立卡: 一户一案、一人一册) — each
approved 低保 or 特困 household with its number, amount, status, payments and trail — the
caseworker's corrected bank account that re-issues a month the bank refused, and the district's
corrections (容错纠错), amounts to recover and findings of dishonesty (失信)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import (
    AuditEntryPublic,
    BankAccountIn,
    CorrectionCreate,
    CorrectionPublic,
    DishonestyCreate,
    DishonestyPublic,
    FamilyPublic,
    MonthPaymentPublic,
    Page,
    RecipientDetail,
    RecipientPublic,
    RecoveryOutcomeCreate,
    RecoveryPublic,
    ReviewPublic,
)
from api.permissions import (
    CORRECT_BENEFIT,
    LIST_RECIPIENTS,
    READ_RECIPIENT,
    RECIPIENT_CASEWORK,
    PermittedRoute,
    permit,
)
from domain.cases import Actor, BankAccount
from domain.recipients import RecipientStatus
from services import corrections, recipients

router = APIRouter(prefix="/recipients", tags=["recipients"], route_class=PermittedRoute)

RecipientNo = Annotated[
    str,
    Path(
        max_length=40,
        pattern=r"^[0-9A-Za-z-]+$",
        description="救助档案号, e.g. 370305-DB-2026-000001",
    ),
]


@router.get("", response_model=Page[RecipientPublic])
async def list_recipients(
    db: DatabaseDep,
    user: Actor = permit(LIST_RECIPIENTS),
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    village: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    assistance_type: Literal["dibao", "tekun"] | None = None,
    status: RecipientStatus | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[RecipientPublic]:
    """The households of your jurisdiction, by number."""
    listed = await recipients.listing(
        db=db,
        user=user,
        equal={
            "township": township,
            "village": village,
            "assistance_type": assistance_type,
            "status": status,
        },
        page=page,
        page_size=page_size,
    )
    return Page[RecipientPublic].of(listed, RecipientPublic.of)


@router.get("/{recipient_no}", response_model=RecipientDetail)
async def get_recipient(
    recipient_no: RecipientNo,
    db: DatabaseDep,
    settings: SettingsDep,
    user: Actor = permit(READ_RECIPIENT),
) -> RecipientDetail:
    """The household: its members (numbers in full to the caseworkers, masked to the others),
    its amount and status with the course of decisions, its payments by month."""
    read = await recipients.read(
        db=db, recipient_no=recipient_no, user=user, ring=settings.key_ring()
    )
    recoveries, findings = await corrections.on_record(db=db, recipient_no=recipient_no)
    return RecipientDetail.of(
        read.view,
        family=FamilyPublic.model_validate(read.family) if read.family else None,
        payments=[MonthPaymentPublic.model_validate(p) for p in read.payments],
        recoveries=[RecoveryPublic.model_validate(r) for r in recoveries],
        dishonesty=[DishonestyPublic.model_validate(f) for f in findings],
        review=ReviewPublic.of(read.review) if read.review else None,
    )


@router.get("/{recipient_no}/audit-trail", response_model=list[AuditEntryPublic])
async def get_recipient_trail(
    recipient_no: RecipientNo, db: DatabaseDep, user: Actor = permit(READ_RECIPIENT)
) -> list[AuditEntryPublic]:
    """Every change of the household, on a trail chained like a case's (留痕)."""
    entries = await recipients.trail(db=db, recipient_no=recipient_no, user=user)
    return [AuditEntryPublic.model_validate(e) for e in entries]


@router.post("/{recipient_no}/bank-account", response_model=RecipientPublic)
async def record_bank_account(
    recipient_no: RecipientNo,
    body: BankAccountIn,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(RECIPIENT_CASEWORK),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> RecipientPublic:
    """The household's corrected bank account (held by a member): its next payments go there,
    and each month the bank refused is re-issued into it, once."""
    view = await recipients.record_bank_account(
        db=db,
        client=client,
        recipient_no=recipient_no,
        account=BankAccount(**body.model_dump()),
        actor=user,
        ring=settings.key_ring(),
        task_queue=settings.task_queue,
    )
    return RecipientPublic.of(view)


@router.post("/{recipient_no}/corrections", response_model=CorrectionPublic, status_code=201)
async def correct(
    recipient_no: RecipientNo,
    body: CorrectionCreate,
    db: DatabaseDep,
    settings: SettingsDep,
    user: Actor = permit(CORRECT_BENEFIT),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> CorrectionPublic:
    """容错纠错: revoke the approval (made in error) or correct the amount, from a stated month,
    with reasons; what the months the payroll paid since paid above the corrected course is
    recorded as an amount to recover (an underpayment is noted on the trail, not recorded as
    owed). A refused case that never made a household is not corrected here."""
    corrected = await corrections.correct(
        db=db, settings=settings, recipient_no=recipient_no, kind=body.kind,
        effective_month=body.effective_month, reasons=body.reasons, amount=body.amount,
        exception_reason=body.exception_reason, actor=user,
    )  # fmt: skip
    recovery = corrected.recovery
    return CorrectionPublic(
        reference=corrected.view.course[-1].reference,
        recipient=RecipientPublic.of(corrected.view),
        recovery=RecoveryPublic.model_validate(recovery) if recovery else None,
    )


@router.post("/{recipient_no}/recoveries/{recovery_id}", response_model=RecoveryPublic)
async def record_recovery(
    recipient_no: RecipientNo,
    recovery_id: Annotated[int, Path(ge=1, le=2**62)],
    body: RecoveryOutcomeCreate,
    db: DatabaseDep,
    user: Actor = permit(CORRECT_BENEFIT),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> RecoveryPublic:
    """What became of an amount to recover (recovered, waived, written off), once."""
    recovery = await corrections.record_recovery(
        db=db, recipient_no=recipient_no, recovery_id=recovery_id, outcome=body.outcome,
        note=body.note, actor=user,
    )  # fmt: skip
    return RecoveryPublic.model_validate(recovery)


@router.post("/{recipient_no}/dishonesty", response_model=DishonestyPublic, status_code=201)
async def find_dishonesty(
    recipient_no: RecipientNo,
    body: DishonestyCreate,
    db: DatabaseDep,
    settings: SettingsDep,
    user: Actor = permit(CORRECT_BENEFIT),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> DishonestyPublic:
    """失信: the household obtained aid dishonestly. Its benefit ends (from ``effective_month``,
    default the next month) and any later application or emergency request of a member carries
    a flag (``dishonesty_flag``) — not a refusal."""
    _, finding = await corrections.find_dishonesty(
        db=db, recipient_no=recipient_no, source=body.source, reasons=body.reasons,
        effective_month=body.effective_month, actor=user, settings=settings,
        ring=settings.key_ring(),
    )  # fmt: skip
    return DishonestyPublic.model_validate(finding)
