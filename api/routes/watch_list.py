"""/watch-list: households watched (低保边缘、动态监测) after a refusal near the line, an ended
benefit or a 临时救助, with their check-ups (回访); an overdue check-up shows in
``/supervision/stuck`` (``check_up_overdue``)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import CheckUpCreate, Page, WatchEntryPublic
from api.permissions import CHECK_UP, LIST_WATCH, PermittedRoute, permit
from domain.cases import Actor, AssistanceType
from domain.watch import CheckUp, WatchReason, WatchStatus
from services import watch

router = APIRouter(prefix="/watch-list", tags=["watch list"], route_class=PermittedRoute)


@router.get("", response_model=Page[WatchEntryPublic])
async def list_watched(
    db: DatabaseDep,
    user: Actor = permit(LIST_WATCH),
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    status: WatchStatus | None = WatchStatus.watched,
    reason: WatchReason | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[WatchEntryPublic]:
    """The jurisdiction's watched households, the check-up due soonest first; ID numbers
    masked."""
    listed = await watch.listing(
        db=db, user=user, equal={"township": township, "status": status, "reason": reason},
        page=page, page_size=page_size,
    )  # fmt: skip
    return Page[WatchEntryPublic].of(listed, WatchEntryPublic.of)


@router.post("/{entry_id}/check-up", response_model=WatchEntryPublic)
async def check_up(
    body: CheckUpCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    entry_id: Annotated[int, Path(ge=1, le=2**31)],
    user: Actor = permit(CHECK_UP),
    _key: IdempotencyKey = None,
) -> WatchEntryPublic:
    """A check-up: `unchanged` (the next is due a cadence on), `improved` (off the list) or
    `worsened`: with `open_application` the household's application (`assistance_type`, 低保
    by default) is opened now, channel `proactive`, and the answer's `case_no` names it (a
    household with an open one is linked to it, `linked`); without it, the answer's `intake`
    says what `POST /applications` needs to open one."""
    check_up = CheckUp(
        actor=user, outcome=body.outcome, note=body.note, open_application=body.open_application
    )
    if not body.open_application:
        row = await watch.check_up(
            db=db, entry_id=entry_id, check_up=check_up, policy=settings.policy
        )
        return WatchEntryPublic.of(row)
    row, linked = await watch.check_up_opening(
        db=db, client=client, settings=settings, entry_id=entry_id, check_up=check_up,
        assistance_type=AssistanceType(body.assistance_type),
    )  # fmt: skip
    answer = WatchEntryPublic.of(row)
    answer.linked = linked
    return answer
