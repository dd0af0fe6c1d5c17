"""/applications: intake (一门受理), the case, its audit trail, and every caseworker action."""

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import func, select

from api.cases import (
    APPLICATIONS,
    CaseNo,
    audit_trail_for,
    case_detail,
    case_in_jurisdiction,
    declare_action,
    in_jurisdiction,
    list_item,
)
from api.deps import DatabaseDep, IdempotencyKey, SessionDep, SettingsDep, TemporalDep
from api.intake import accept_application
from api.models import (
    ApplicationCreate,
    AuditEntryPublic,
    BankAccountIn,
    CaseDetail,
    CaseListItem,
    CasePage,
    CasePublic,
    DecisionCreate,
    DocumentsReceiptCreate,
    DocumentsRequestCreate,
    ObjectionCreate,
    ReviewCreate,
    SurveyCreate,
    WithdrawalCreate,
)
from api.permissions import (
    ACCEPT_APPLICATION,
    CASEWORK,
    DECIDE,
    LIST_CASES,
    OBJECT,
    READ_CASE,
    REVIEW,
    SURVEY,
    Permission,
    PermittedRoute,
    permit,
)
from domain.cases import (
    Actor,
    AssistanceType,
    BankAccount,
    BankAccountRecord,
    DecisionRecord,
    DocumentsReceipt,
    DocumentsRequest,
    ObjectionRecord,
    ReviewRecord,
    Stage,
    SurveyRecord,
    WithdrawalRecord,
)
from store.tables import CaseRecord
from workflows.application import ApplicationWorkflow

router = APIRouter(prefix="/applications", tags=["applications"], route_class=PermittedRoute)


def _public(view) -> CasePublic:
    return CasePublic.model_validate(view, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CasePublic)
async def create_application(
    body: ApplicationCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(ACCEPT_APPLICATION),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> CasePublic:
    """一门受理: accept an application and start its case. Deadlines count from today."""
    view = await accept_application(db=db, client=client, settings=settings, user=user, body=body)
    return _public(view)


@router.get("", response_model=CasePage)
def list_applications(
    session: SessionDep,
    user: Actor = permit(LIST_CASES),
    stage: Stage | None = None,
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    assistance_type: AssistanceType | None = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """Cases in your jurisdiction, oldest deadline first (from the case records)."""
    query = in_jurisdiction(select(CaseRecord), CaseRecord, user=user)
    if stage is not None:
        query = query.where(CaseRecord.stage == stage)
    if township is not None:
        query = query.where(CaseRecord.township == township)
    if assistance_type is not None:
        query = query.where(CaseRecord.assistance_type == assistance_type)
    if overdue is not None:
        query = query.where(CaseRecord.overdue == overdue)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(CaseRecord.decision_due, CaseRecord.case_no)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return CasePage(
        items=[list_item(CaseListItem, r) for r in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.get("/{case_no}", response_model=CaseDetail)
async def get_application(
    case_no: CaseNo, db: DatabaseDep, settings: SettingsDep, user: Actor = permit(READ_CASE)
) -> CaseDetail:
    row = await db.read(case_in_jurisdiction, kind=APPLICATIONS, case_no=case_no, user=user)
    return case_detail(CaseDetail, row, user=user, ring=settings.key_ring())


@router.get("/{case_no}/audit-trail", response_model=list[AuditEntryPublic])
def get_audit_trail(case_no: CaseNo, session: SessionDep, user: Actor = permit(READ_CASE)) -> list:
    """Who did what, when, from which stage to which (留痕)."""
    return audit_trail_for(session, kind=APPLICATIONS, case_no=case_no, user=user)


def _action(path: str, body, record, update, permission: Permission, doc: str) -> None:
    declare_action(
        router, APPLICATIONS, path, body=body, record=record, update=update,
        permission=permission, answer=CasePublic, doc=doc,
    )  # fmt: skip


def _plain(record_type: type):
    """The body's fields, as they are, and who acted."""
    return lambda user, body: record_type(actor=user, **body.model_dump(by_alias=True))


_action(
    "survey",
    SurveyCreate,
    _plain(SurveyRecord),
    ApplicationWorkflow.record_survey,
    SURVEY,
    "入户调查: at least two investigators. The case moves on once the verification report is in too.",
)
_action(
    "review",
    ReviewCreate,
    _plain(ReviewRecord),
    ApplicationWorkflow.record_review,
    REVIEW,
    "初审: a proposed approval goes to public notice, a proposed refusal to the district.",
)
_action(
    "objections",
    ObjectionCreate,
    _plain(ObjectionRecord),
    ApplicationWorkflow.record_objection,
    OBJECT,
    "异议 during public notice: the case goes back to survey; the notice restarts afterwards.",
)
_action(
    "decision",
    DecisionCreate,
    _plain(DecisionRecord),
    ApplicationWorkflow.record_decision,
    DECIDE,
    "审核确认: approval pays the first amount; refusal sends the reasons in writing.",
)
_action(
    "documents-requested",
    DocumentsRequestCreate,
    _plain(DocumentsRequest),
    ApplicationWorkflow.request_documents,
    CASEWORK,
    "补正: ask for documents; the decision clock pauses until they arrive.",
)
_action(
    "documents-received",
    DocumentsReceiptCreate,
    _plain(DocumentsReceipt),
    ApplicationWorkflow.receive_documents,
    CASEWORK,
    "The documents are in: the case resumes where it paused and its deadline moves.",
)
_action(
    "withdrawal",
    WithdrawalCreate,
    _plain(WithdrawalRecord),
    ApplicationWorkflow.withdraw,
    CASEWORK,
    "The applicant withdraws (撤回申请).",
)
_action(
    "bank-account",
    BankAccountIn,
    lambda user, b: BankAccountRecord(actor=user, account=BankAccount(**b.model_dump())),
    ApplicationWorkflow.record_bank_account,
    CASEWORK,
    "The family's bank account (社会化发放), or a corrected one after the payment system refused "
    "the last: an approved case waiting for it is then paid, once.",
)
