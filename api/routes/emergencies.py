"""/emergencies: 急难型临时救助 — a family in an urgent crisis is paid within 24 hours of the
request from the township's reserve (先行救助), and the procedure is completed afterwards (补办)."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.cases import declare_action
from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import (
    ApprovalCreate,
    AuditEntryPublic,
    BankAccountIn,
    EmergencyCreate,
    EmergencyDecisionCreate,
    EmergencyDecisionPublic,
    EmergencyDetail,
    EmergencyListItem,
    EmergencyPublic,
    ExceptionApprovalCreate,
    Page,
    RejectionCreate,
    ReviewCreate,
    SurveyCreate,
)
from api.permissions import (
    APPROVE_EMERGENCY,
    APPROVE_EXCEPTION,
    CASEWORK,
    DECIDE,
    LIST_CASES,
    PERMITTED_CASE,
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
from services import cases, intake
from services.cases import EMERGENCIES
from store.jurisdiction import CaseRef
from workflows.emergency import EmergencyWorkflow

router = APIRouter(prefix="/emergencies", tags=["emergencies"], route_class=PermittedRoute)


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
    view = await intake.accept_emergency(
        db=db, client=client, settings=settings, user=user, request=body.intake()
    )
    return EmergencyPublic.of(view)


@router.get("", response_model=Page[EmergencyListItem])
async def list_emergencies(
    db: DatabaseDep,
    user: Actor = permit(LIST_CASES),
    stage: EmergencyStage | None = None,
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    cause: Cause | None = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[EmergencyListItem]:
    """Emergencies in your jurisdiction, the most pressing payout first (from the case records)."""
    listed = await cases.listing(
        db=db,
        kind=EMERGENCIES,
        user=user,
        equal={"stage": stage, "township": township, "cause": cause, "overdue": overdue},
        page=page,
        page_size=page_size,
    )
    return Page[EmergencyListItem].of(
        listed, lambda c: EmergencyListItem.of(c.view, applicant_id_number=c.applicant_id_number)
    )


@router.get("/{case_no}", response_model=EmergencyDetail)
async def get_emergency(
    db: DatabaseDep,
    settings: SettingsDep,
    user: Actor = permit(READ_CASE),
    case: CaseRef = PERMITTED_CASE,
) -> EmergencyDetail:
    read = await cases.read(db=db, kind=EMERGENCIES, case=case, user=user, ring=settings.key_ring())
    return EmergencyDetail.of(read.view, family=read.family)


@router.get("/{case_no}/audit-trail", response_model=list[AuditEntryPublic])
async def get_audit_trail(
    db: DatabaseDep, user: Actor = permit(READ_CASE), case: CaseRef = PERMITTED_CASE
) -> list[AuditEntryPublic]:
    """Who did what, when, from which stage to which (留痕)."""
    entries = await cases.trail(db=db, kind=EMERGENCIES, case=case, user=user)
    return [AuditEntryPublic.model_validate(e) for e in entries]


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
    APPROVE_EXCEPTION,
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


async def _next_step(*, db, client, settings, user: Actor, body, view) -> EmergencyDecisionPublic:
    """衔接: what the confirmation said follows, opened by the intake (once)."""
    if view.next_step is None:
        return EmergencyDecisionPublic.of(view, next_case_no=None, next_step_linked=False,
                                          watch_entry_id=None)  # fmt: skip
    taken = await intake.take_next_step(
        db=db, client=client, settings=settings, user=user, emergency_no=view.case_no,
        next_step=view.next_step,
    )  # fmt: skip
    return EmergencyDecisionPublic.of(
        view, next_case_no=taken.case_no, next_step_linked=taken.linked,
        watch_entry_id=taken.watch_entry_id,
    )  # fmt: skip


declare_action(
    router, EMERGENCIES, "decision", body=EmergencyDecisionCreate,
    record=lambda user, b: DecisionRecord(actor=user, **b.model_dump()),
    update=EmergencyWorkflow.confirm, permission=DECIDE, answer=EmergencyDecisionPublic,
    doc="补办: the district confirms the follow-up's finding; the case closes. `next_step` says "
    "what follows (衔接): `dibao_application` or `tekun_application` opens the family's "
    "application (channel `proactive`, naming the emergency; a household with an open one is "
    "linked to it), `watch_list` puts the family on the watch list.",
    then=_next_step,
)  # fmt: skip
