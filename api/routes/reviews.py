"""/recipients/{no}/reviews and /changes: the reviews of a recipient household (定期核查, and
the out-of-cycle review a reported change opens — 家庭状况变化), each caseworker's action in one,
and the district's decision on the benefit, effective from a stated month."""

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import (
    BenefitDecisionCreate,
    ChangeCreate,
    ProposalCreate,
    ReviewOpen,
    ReviewOpened,
    ReviewPublic,
    SurveyCreate,
)
from api.permissions import (
    DECIDE_FOR_RECIPIENT,
    PROPOSE_FOR_RECIPIENT,
    READ_RECIPIENT,
    REPORT_CHANGE,
    REVIEW_RECIPIENT,
    SURVEY_RECIPIENT,
    Permission,
    PermittedRoute,
    permit,
)
from api.routes.recipients import RecipientNo
from domain.benefits import BenefitDecision
from domain.cases import Actor, SurveyRecord
from domain.reviews import ReportedChange
from services import letters, reviews
from workflows.review import ReviewWorkflow

router = APIRouter(prefix="/recipients", tags=["reviews"], route_class=PermittedRoute)

ReviewNo = Annotated[
    str, Path(max_length=48, pattern=r"^[0-9A-Za-z-]+$", description="核查号, e.g. …-R01")
]


@router.get("/{recipient_no}/reviews", response_model=list[ReviewPublic])
async def list_reviews(
    recipient_no: RecipientNo, db: DatabaseDep, user: Actor = permit(READ_RECIPIENT)
) -> list[ReviewPublic]:
    """The household's reviews, the newest first (the open one with its stage and due dates)."""
    return [ReviewPublic.of(v) for v in await reviews.listing(db=db, recipient_no=recipient_no)]


@router.get("/{recipient_no}/reviews/{review_no}", response_model=ReviewPublic)
async def get_review(
    recipient_no: RecipientNo,
    review_no: ReviewNo,
    db: DatabaseDep,
    user: Actor = permit(READ_RECIPIENT),
) -> ReviewPublic:
    view = await reviews.read(db=db, recipient_no=recipient_no, review_no=review_no)
    return ReviewPublic.of(view)


@router.post(
    "/{recipient_no}/reviews", status_code=status.HTTP_201_CREATED, response_model=ReviewOpened
)
async def open_review(
    recipient_no: RecipientNo,
    body: ReviewOpen,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(REVIEW_RECIPIENT),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> ReviewOpened:
    """An out-of-cycle review (the one under way if there is one: one at a time)."""
    opened = await reviews.open_review(
        db=db, client=client, recipient_no=recipient_no, reason=body.reason, actor=user,
        policy=settings.policy, ring=settings.key_ring(), task_queue=settings.task_queue,
    )  # fmt: skip
    return ReviewOpened(review_no=opened.review_no, joined=opened.joined)


@router.post(
    "/{recipient_no}/changes", status_code=status.HTTP_201_CREATED, response_model=ReviewOpened
)
async def report_change(
    recipient_no: RecipientNo,
    body: ChangeCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(REPORT_CHANGE),
    key: IdempotencyKey = None,
) -> ReviewOpened:
    """A change in the household (家庭状况变化): it opens an out-of-cycle review at once, or joins
    the one under way. The death of the only member goes straight to the district, which
    confirms the end of the benefit (terminate) without a survey."""
    change = ReportedChange(actor=user, **body.model_dump())
    opened = await reviews.open_review(
        db=db, client=client, recipient_no=recipient_no,
        reason=f"change reported: {body.kind}", actor=user, policy=settings.policy,
        ring=settings.key_ring(), task_queue=settings.task_queue, change=change,
        update_id=f"change:{user.user_id}:{key}" if key else None,
        timeout=timedelta(seconds=settings.action_timeout_seconds),
    )  # fmt: skip
    return ReviewOpened(review_no=opened.review_no, joined=opened.joined)


@router.get(
    "/{recipient_no}/reviews/{review_no}/decision-letter",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The letter, as PDF (A4)."},
        409: {"description": "The review is not decided yet."},
    },
)
async def get_decision_letter(
    recipient_no: RecipientNo,
    review_no: ReviewNo,
    db: DatabaseDep,
    settings: SettingsDep,
    user: Actor = permit(READ_RECIPIENT),
) -> Response:
    """The written decision (决定书: 调整、暂停、恢复、渐退、停发) to print and hand to the family:
    what was decided, from which month, why, and how to object."""
    letter = await letters.review_decision_letter(
        db=db, recipient_no=recipient_no, review_no=review_no, policy=settings.policy
    )
    return Response(
        content=await letters.render_pdf_async(letter),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{review_no}.pdf"'},
    )


@router.get(
    "/{recipient_no}/decisions/{reference}/decision-letter",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The letter (A4)."}},
)
async def get_course_decision_letter(
    recipient_no: RecipientNo,
    reference: ReviewNo,
    db: DatabaseDep,
    settings: SettingsDep,
    user: Actor = permit(READ_RECIPIENT),
) -> Response:
    """The letter of any decision on the household's course, by the reference its course shows
    (a correction's — 撤销、更正 —, a finding of dishonesty's, a review's)."""
    letter = await letters.course_decision_letter(
        db=db, recipient_no=recipient_no, reference=reference, policy=settings.policy
    )
    return Response(
        content=await letters.render_pdf_async(letter),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{recipient_no}-{reference}.pdf"'},
    )


def _action(
    path: str, body: type, record: Callable[[Actor, Any], Any], update: Any, permission: Permission,
    doc: str,
) -> None:  # fmt: skip
    """One caseworker action in a review, carried to its workflow as an Update."""

    async def route(
        recipient_no: RecipientNo,
        review_no: ReviewNo,
        payload: body,  # type: ignore[valid-type]
        db: DatabaseDep,
        client: TemporalDep,
        settings: SettingsDep,
        user: Actor = permit(permission),
        key: IdempotencyKey = None,
    ) -> ReviewPublic:
        await reviews.read(db=db, recipient_no=recipient_no, review_no=review_no)  # 404
        view = await reviews.act(
            client=client, review_no=review_no, update=update, record=record(user, payload),
            update_id=f"review-{path}:{user.user_id}:{key}" if key else None,
            timeout=timedelta(seconds=settings.action_timeout_seconds),
        )  # fmt: skip
        return ReviewPublic.of(view)

    route.__doc__ = doc
    route.__name__ = f"review_{path}"
    router.post(f"/{{recipient_no}}/reviews/{{review_no}}/{path}", response_model=ReviewPublic)(
        route
    )


def _decision(user: Actor, body: Any) -> BenefitDecision:
    fields = body.model_dump()
    outcome = fields.pop("recommendation", None) or fields.pop("outcome")
    return BenefitDecision(actor=user, outcome=outcome, **fields)


_action(
    "survey",
    SurveyCreate,
    lambda user, b: SurveyRecord(actor=user, **b.model_dump(by_alias=True)),
    ReviewWorkflow.record_survey,
    SURVEY_RECIPIENT,
    "入户调查 in the review (two investigators); with the platform's report, the township "
    "proposes.",
)
_action(
    "proposal",
    ProposalCreate,
    _decision,
    ReviewWorkflow.record_proposal,
    PROPOSE_FOR_RECIPIENT,
    "The township's proposal (its `recommendation`): continue, adjust, suspend, resume, "
    "phase_out or terminate, from a month, with reasons.",
)
_action(
    "decision",
    BenefitDecisionCreate,
    _decision,
    ReviewWorkflow.record_decision,
    DECIDE_FOR_RECIPIENT,
    "The district's decision on the benefit, from `effective_month` (default: next month): "
    "the payroll of that month pays it. A suspension, phase-out or end is texted to the family.",
)
