"""/applications: intake (一门受理), the case, its audit trail, and every caseworker action."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.cases import declare_action
from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import (
    ApplicationCreate,
    ApplicationDetail,
    ApplicationListItem,
    ApplicationPublic,
    AuditEntryPublic,
    BankAccountIn,
    DecisionCreate,
    DocumentsReceiptCreate,
    DocumentsRequestCreate,
    ObjectionCreate,
    Page,
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
    PERMITTED_CASE,
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
from services import cases, intake, letters
from services.cases import APPLICATIONS
from store.jurisdiction import CaseRef
from workflows.application import ApplicationWorkflow

router = APIRouter(prefix="/applications", tags=["applications"], route_class=PermittedRoute)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApplicationPublic)
async def create_application(
    body: ApplicationCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(ACCEPT_APPLICATION),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> ApplicationPublic:
    """一门受理: accept an application and start its case. Deadlines count from today."""
    view = await intake.accept_application(
        db=db, client=client, settings=settings, user=user, application=body.intake()
    )
    return ApplicationPublic.of(view)


@router.get("", response_model=Page[ApplicationListItem])
async def list_applications(
    db: DatabaseDep,
    user: Actor = permit(LIST_CASES),
    stage: Stage | None = None,
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    assistance_type: AssistanceType | None = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ApplicationListItem]:
    """Cases in your jurisdiction, oldest deadline first (from the case records)."""
    listed = await cases.listing(
        db=db,
        kind=APPLICATIONS,
        user=user,
        equal={
            "stage": stage,
            "township": township,
            "assistance_type": assistance_type,
            "overdue": overdue,
        },
        page=page,
        page_size=page_size,
    )
    return Page[ApplicationListItem].of(
        listed, lambda c: ApplicationListItem.of(c.view, applicant_id_number=c.applicant_id_number)
    )


@router.get("/{case_no}", response_model=ApplicationDetail)
async def get_application(
    db: DatabaseDep,
    settings: SettingsDep,
    user: Actor = permit(READ_CASE),
    case: CaseRef = PERMITTED_CASE,
) -> ApplicationDetail:
    read = await cases.read(
        db=db, kind=APPLICATIONS, case=case, user=user, ring=settings.key_ring()
    )
    return ApplicationDetail.of(read.view, family=read.family)


@router.get("/{case_no}/audit-trail", response_model=list[AuditEntryPublic])
async def get_audit_trail(
    db: DatabaseDep, user: Actor = permit(READ_CASE), case: CaseRef = PERMITTED_CASE
) -> list[AuditEntryPublic]:
    """Who did what, when, from which stage to which (留痕)."""
    entries = await cases.trail(db=db, kind=APPLICATIONS, case=case, user=user)
    return [AuditEntryPublic.model_validate(e) for e in entries]


@router.get(
    "/{case_no}/decision-letter",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The letter, as PDF (A4)."},
        409: {"description": "The case is not decided yet (not approved or refused)."},
    },
)
async def get_decision_letter(
    db: DatabaseDep,
    settings: SettingsDep,
    user: Actor = permit(READ_CASE),
    case: CaseRef = PERMITTED_CASE,
) -> Response:
    """The written decision (决定书) to print and hand to the family: the approval with its
    amount and first month, or the refusal (不予救助) with its reasons, and how to object."""
    letter = await letters.application_decision_letter(db=db, case=case, ring=settings.key_ring())
    return Response(
        content=await letters.render_pdf_async(letter),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{case.case_no}.pdf"'},
    )


def _action(path: str, body, record, update, permission: Permission, doc: str) -> None:
    declare_action(
        router, APPLICATIONS, path, body=body, record=record, update=update,
        permission=permission, answer=ApplicationPublic, doc=doc,
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
