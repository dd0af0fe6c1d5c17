"""/supervision: every case that is not moving and why (applications and emergencies together),
and a supervisor's ways to move it (督办). Each action goes on the case's audit trail, with
its reason, through the case's own workflow (``services.supervision``)."""

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import ApplicationPublic, Body, EmergencyPublic, Label, Page, Text
from api.permissions import (
    EXTEND_DEADLINE,
    INTERVENE,
    PERMITTED_CASE,
    SUPERVISE,
    PermittedRoute,
    permit,
)
from domain.cases import Actor, Intervention, InterventionRecord
from domain.emergency import EmergencyView
from domain.supervision import Reason
from services import supervision
from services.cases import View
from services.supervision import StuckCase
from store.jurisdiction import CaseRef

StuckKind = Literal[
    "application", "emergency", "recipient", "payroll", "referral", "sweep", "watch"
]
"""``sweep``: a township whose sweep of its villages is overdue (its code as ``case_no``);
``watch``: a watched household's check-up overdue (``watch-<id>``)."""

router = APIRouter(prefix="/supervision", tags=["supervision"], route_class=PermittedRoute)


class RetryPublic(BaseModel):
    """An external call waiting for its next attempt, as the case engine describes it."""

    model_config = {"from_attributes": True}

    activity: str
    attempt: int
    next_attempt_at: datetime | None
    last_failure: str


class StuckPublic(BaseModel):
    model_config = {"from_attributes": True}

    case_no: str
    kind: StuckKind
    type: str
    township: str
    stage: str
    since: datetime
    assignee: str
    waits_for: str
    due: datetime | None
    reason: Reason
    detail: str
    actions: list[str]
    retries: list[RetryPublic] = []

    @classmethod
    def of(cls, row: StuckCase) -> "StuckPublic":
        return cls.model_validate(asdict(row.stuck) | {"retries": row.retries})


class StuckSummary(BaseModel):
    model_config = {"from_attributes": True}

    total: int
    by_reason: dict[str, int]
    by_township: dict[str, dict[str, int]]


class InterventionCreate(Body):
    reason: Text
    assignee: Label | None = None
    to_stage: Literal["survey", "review", "paid"] | None = None


class ExtensionCreate(Body):
    reason: Text
    working_days: Annotated[int, Field(ge=1, le=30)]


Action = Literal[
    "reassign", "escalate", "retry-now", "reverify", "reopen", "cancel", "restart-orphan",
    "restart", "close",
]  # fmt: skip
"""A supervisor's actions; extend-deadline has a route of its own (a district officer's too)."""


@router.get("/stuck", response_model=Page[StuckPublic])
async def list_stuck(
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(SUPERVISE),
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    kind: StuckKind | None = None,
    reason: Reason | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[StuckPublic]:
    """Every open case that is not moving, the most urgent first: why, since when, whom it
    waits for, and the actions that apply. A retrying call's attempt, next time and last
    failure come from the case engine's description of the workflow."""
    rows = await supervision.stuck(
        db=db, client=client, user=user, township=township, kind=kind, reason=reason,
        thresholds=settings.supervision, page=page, page_size=page_size, policy=settings.policy,
    )  # fmt: skip
    return Page[StuckPublic].of(rows, StuckPublic.of)


@router.get("/summary", response_model=StuckSummary)
async def summary(
    db: DatabaseDep, settings: SettingsDep, user: Actor = permit(SUPERVISE)
) -> StuckSummary:
    """How many cases are not moving, by reason and by township."""
    counted = await supervision.summary(
        db=db, user=user, thresholds=settings.supervision, policy=settings.policy
    )
    return StuckSummary.model_validate(counted)


@router.post("/cases/{case_no}/extend-deadline", response_model=ApplicationPublic | EmergencyPublic)
async def extend_deadline(
    body: ExtensionCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(EXTEND_DEADLINE),
    case: CaseRef = PERMITTED_CASE,
    key: IdempotencyKey = None,
) -> ApplicationPublic | EmergencyPublic:
    """Give a case more working days: an application's decision, an emergency's follow-up
    (补办). The original due date is kept and the audit counts the case as extended, never on
    time. A supervisor adds at most ``max_extension_working_days`` in all to a case; beyond
    them a district officer decides. The reason is required and goes on the audit trail."""
    record = InterventionRecord(
        actor=user,
        action=Intervention.extend_deadline,
        reason=body.reason,
        working_days=body.working_days,
    )
    return _public(
        await supervision.intervene(
            db=db, client=client, settings=settings, case=case, record=record, key=key
        )
    )


@router.post("/cases/{case_no}/{action}", response_model=ApplicationPublic | EmergencyPublic)
async def intervene(
    action: Action,
    body: InterventionCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(INTERVENE),
    case: CaseRef = PERMITTED_CASE,
    key: IdempotencyKey = None,
) -> ApplicationPublic | EmergencyPublic:
    """督办: reassign, escalate to the district, make a retrying call run now, ask the
    verification platform again, reopen an earlier stage (容错纠错), cancel a case opened in
    error, or start the workflow of a record that has none. A case the case engine halted, once
    its payments are reconciled with the bank: restart it from its last state, or close it. The
    reason is required and goes on the audit trail."""
    record = InterventionRecord(
        actor=user,
        action=Intervention(action.replace("-", "_")),
        reason=body.reason,
        assignee=body.assignee,
        to_stage=body.to_stage,
    )
    return _public(
        await supervision.intervene(
            db=db, client=client, settings=settings, case=case, record=record, key=key
        )
    )


def _public(view: View) -> ApplicationPublic | EmergencyPublic:
    return (EmergencyPublic if isinstance(view, EmergencyView) else ApplicationPublic).of(view)
