"""/emergencies: 急难型临时救助 — a family in an urgent crisis is paid within 24 hours of the
request from the township's reserve (先行救助), and the procedure is completed afterwards (补办)."""

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import func, select

from api.cases import (
    EMERGENCIES,
    CaseNo,
    audit_trail_for,
    case_detail,
    case_in_jurisdiction,
    declare_action,
    in_jurisdiction,
    list_item,
)
from api.deps import DatabaseDep, IdempotencyKey, SessionDep, SettingsDep, TemporalDep
from api.intake import accept_emergency
from api.models import (
    ApprovalCreate,
    AuditEntryPublic,
    BankAccountIn,
    DecisionCreate,
    EmergencyCreate,
    EmergencyDetail,
    EmergencyListItem,
    EmergencyPage,
    EmergencyPublic,
    ExceptionApprovalCreate,
    RejectionCreate,
    ReviewCreate,
    SurveyCreate,
)
from api.permissions import (
    APPROVE_EMERGENCY,
    CASEWORK,
    DECIDE,
    LIST_CASES,
    READ_CASE,
    REQUEST_EMERGENCY,
    REVIEW,
    SURVEY,
    Permission,
    PermittedRoute,
    permit,
)
from domain.cases import (
    Actor,
    BankAccount,
    BankAccountRecord,
    DecisionRecord,
    ReviewRecord,
    SurveyRecord,
)
from domain.emergency import (
    ApprovalRecord,
    Cause,
    EmergencyStage,
    ExceptionApproval,
    RejectionRecord,
)
from store.tables import EmergencyRecord
from workflows.emergency import EmergencyWorkflow

router = APIRouter(prefix="/emergencies", tags=["emergencies"], route_class=PermittedRoute)


def _public(view) -> EmergencyPublic:
    return EmergencyPublic.model_validate(view, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EmergencyPublic)
async def request_emergency(
    body: EmergencyCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(REQUEST_EMERGENCY),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> EmergencyPublic:
    """急难: a family in an urgent crisis. ``pay_by`` in the answer is 24 hours from now."""
    return _public(
        await accept_emergency(db=db, client=client, settings=settings, user=user, body=body)
    )


@router.get("", response_model=EmergencyPage)
def list_emergencies(
    session: SessionDep,
    user: Actor = permit(LIST_CASES),
    stage: EmergencyStage | None = None,
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    cause: Cause | None = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EmergencyPage:
    """Emergencies in your jurisdiction, the most pressing payout first (from the case records)."""
    query = in_jurisdiction(select(EmergencyRecord), EmergencyRecord, user=user)
    for column, value in (
        (EmergencyRecord.stage, stage),
        (EmergencyRecord.township, township),
        (EmergencyRecord.cause, cause),
        (EmergencyRecord.overdue, overdue),
    ):
        if value is not None:
            query = query.where(column == value)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(EmergencyRecord.pay_by, EmergencyRecord.case_no)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return EmergencyPage(
        items=[list_item(EmergencyListItem, r) for r in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.get("/{case_no}", response_model=EmergencyDetail)
async def get_emergency(
    case_no: CaseNo, db: DatabaseDep, settings: SettingsDep, user: Actor = permit(READ_CASE)
) -> EmergencyDetail:
    row = await db.read(case_in_jurisdiction, kind=EMERGENCIES, case_no=case_no, user=user)
    return case_detail(EmergencyDetail, row, user=user, ring=settings.key_ring())


@router.get("/{case_no}/audit-trail", response_model=list[AuditEntryPublic])
def get_audit_trail(case_no: CaseNo, session: SessionDep, user: Actor = permit(READ_CASE)) -> list:
    """Who did what, when, from which stage to which (留痕)."""
    return audit_trail_for(session, kind=EMERGENCIES, case_no=case_no, user=user)


def _action(path: str, body, record, update, permission: Permission, doc: str) -> None:
    declare_action(
        router, EMERGENCIES, path, body=body, record=record, update=update,
        permission=permission, answer=EmergencyPublic, doc=doc,
    )  # fmt: skip


_action(
    "approval",
    ApprovalCreate,
    lambda user, b: ApprovalRecord(actor=user, amount=b.amount, note=b.note),
    EmergencyWorkflow.approve,
    APPROVE_EMERGENCY,
    "审批: the township leader up to the township limit, above it a district officer; the amount "
    "within the band of the cause. The reserve is held and the family paid at once.",
)
_action(
    "exception-approval",
    ExceptionApprovalCreate,
    lambda user, b: ExceptionApproval(actor=user, amount=b.amount, reason=b.reason),
    EmergencyWorkflow.approve_exception,
    DECIDE,
    "一事一议: a district officer approves, with a reason, an amount above the band or a second "
    "payment to the family within the window, whatever its cause.",
)
_action(
    "rejection",
    RejectionCreate,
    lambda user, b: RejectionRecord(actor=user, reasons=b.reasons),
    EmergencyWorkflow.reject,
    APPROVE_EMERGENCY,
    "Not granted: the family is told why by SMS.",
)
_action(
    "bank-account",
    BankAccountIn,
    lambda user, b: BankAccountRecord(actor=user, account=BankAccount(**b.model_dump())),
    EmergencyWorkflow.record_bank_account,
    CASEWORK,
    "A corrected bank account (after the payment system refused the last one, say): the payment "
    "is issued again under a new key; the family receives one transfer.",
)
_action(
    "survey",
    SurveyCreate,
    lambda user, b: SurveyRecord(actor=user, **b.model_dump(by_alias=True)),
    EmergencyWorkflow.record_survey,
    SURVEY,
    "补办: the follow-up household survey, after the payment.",
)
_action(
    "review",
    ReviewCreate,
    lambda user, b: ReviewRecord(actor=user, **b.model_dump()),
    EmergencyWorkflow.record_review,
    REVIEW,
    "补办: the township's finding, 'approve' (eligible) or 'refuse' (not eligible: the district "
    "is told; recovering the money is its decision).",
)
_action(
    "decision",
    DecisionCreate,
    lambda user, b: DecisionRecord(actor=user, **b.model_dump()),
    EmergencyWorkflow.confirm,
    DECIDE,
    "补办: the district confirms the follow-up's finding; the case closes.",
)
