"""/audit/verify and /audit/cases/{case_no}/timeline: evidence that cannot be quietly edited."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import DatabaseDep, TemporalDep
from api.permissions import (
    PERMITTED_CASE,
    READ_TIMELINE,
    VERIFY_AUDIT_TRAIL,
    PermittedRoute,
    permit,
)
from domain.cases import Actor
from services import evidence
from store.jurisdiction import CaseRef

router = APIRouter(prefix="/audit", tags=["audit"], route_class=PermittedRoute)


class Mismatch(BaseModel):
    model_config = {"from_attributes": True}

    case_no: str | None
    seq: int | None
    id: int | None
    problem: str
    """edited | chain broken | newest entry missing | head mismatch | no head | seal mismatch"""
    detail: str
    seal: int | None = None
    """The seal that no longer matches (a seal mismatch)."""


class Seal(BaseModel):
    model_config = {"from_attributes": True}

    seq: int
    up_to_id: int
    root: str
    sealed_at: datetime


class Verification(BaseModel):
    model_config = {"from_attributes": True}

    ok: bool
    entries: int
    seals: int
    first_mismatch: Mismatch | None
    """The earliest problem: the first of ``mismatches``."""
    mismatches: list[Mismatch]
    """Every problem found, the earliest first (entries by id, then seals), at most 100."""
    mismatch_count: int
    """How many problems were found in all."""
    last_seal: Seal | None
    """Keep its root outside the system: a later answer whose seals do not reach it, or
    reach it with another root, shows seals removed or rewritten."""


class TimelineStep(BaseModel):
    model_config = {"from_attributes": True}

    seq: int
    at: datetime
    action: str
    from_stage: str | None
    to_stage: str
    user_id: str
    source: str
    """workflow, or api: written by the API itself (the intake, a halted case), in the
    records only."""
    in_history: bool
    in_records: bool
    differences: list[str]
    """The fields of the records that are not as the history tells them."""


class Timeline(BaseModel):
    model_config = {"from_attributes": True}

    case_no: str
    workflow_id: str
    history: str
    """complete; partial (the earliest runs' history is past retention: the steps before
    it are not compared); or not found (nothing to compare: ``matches`` is null)."""
    runs: int
    matches: bool | None
    steps: list[TimelineStep]


@router.get("/verify", response_model=Verification)
async def verify_audit_trail(
    db: DatabaseDep, user: Actor = permit(VERIFY_AUDIT_TRAIL)
) -> Verification:
    """Check every audit entry against its hash, its case's chain and its case's head, and
    every seal against the entries it covers; name every entry (by case and seq) or seal that
    does not match, the earliest first. Its seals span every case: it needs an account of the
    district."""
    return Verification.model_validate(await evidence.verification(db=db))


@router.get("/cases/{case_no}/timeline", response_model=Timeline)
async def case_timeline(
    db: DatabaseDep,
    client: TemporalDep,
    user: Actor = permit(READ_TIMELINE),
    case: CaseRef = PERMITTED_CASE,
) -> Timeline:
    """The case's steps rebuilt from its workflow's history (every run, when it continued as
    new) beside its audit trail, by seq, naming every difference. On a case that is moving,
    a step being written may show on one side only: ask again."""
    return Timeline.model_validate(await evidence.timeline(db=db, client=client, case=case))
