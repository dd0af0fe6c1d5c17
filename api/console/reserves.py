"""储备金: the townships' emergency reserves (临时救助储备金) — balance, held, minimum, the
ledger — and the district officer's top-up, through ``services.reserves`` under the API's
permissions (a village coordinator sees none; a township's staff their own)."""

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.console import words
from api.console.access import CHECKED_FORM, allowed
from api.console.forms import FormProblems, Problems, act_once, parsed
from api.console.pages import ConsoleRoute, render
from api.deps import DatabaseDep, SettingsDep, TemporalDep
from api.models import ReserveEntryPublic, ReservePublic, TopUpCreate
from api.permissions import READ_RESERVE, TOP_UP, Permission, Scope
from domain.cases import Actor
from domain.errors import NotFound
from domain.townships import covers
from services import reserves, townships

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

READ_RESERVES = Permission("read the townships' reserves", READ_RESERVE.roles, Scope.none)
"""The list of reserves: each township's as READ_RESERVE allows it (those of the user's
jurisdiction only)."""
PAGE_SIZE = 50


@router.get("/reserves")
async def reserves_page(
    request: Request, db: DatabaseDep, user: Actor = allowed(READ_RESERVES)
) -> Response:
    """Every reserve of the user's jurisdiction; a township's staff go to their own."""
    mine = [t for t in await townships.listing(db=db) if covers(user.jurisdiction, t.code)]
    if len(mine) == 1 and mine[0].code == user.jurisdiction:
        return RedirectResponse(f"/console/reserves/{mine[0].code}", status_code=303)
    rows = [
        (t, ReservePublic.model_validate(await reserves.reserve_of(db=db, township=t.code)))
        for t in mine
    ]
    return render(request, "reserves.html", title="临时救助储备金", rows=rows)


@router.get("/reserves/{code}")
async def reserve_page(
    request: Request, code: str, db: DatabaseDep, user: Actor = allowed(READ_RESERVE)
) -> Response:
    return await _reserve(request, db=db, user=user, code=code)


@router.post("/reserves/{code}/top-ups")
async def top_up(
    request: Request,
    code: str,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = allowed(TOP_UP),
    form: dict[str, str] = CHECKED_FORM,
) -> Response:
    """The API's POST /townships/{code}/reserve/top-ups, as a form: money moves once."""
    try:
        await _township(db, code)
        body = parsed(TopUpCreate, {"amount": form.get("amount", "").strip().replace(",", ""),
                                    "note": form.get("note", "")})  # fmt: skip

        async def run() -> str:
            await reserves.top_up(
                db=db, client=client, user=user, township=code, amount=body.amount,
                note=body.note, key=form.get("idempotency_key", ""),
            )  # fmt: skip
            return f"/console/reserves/{code}?done=top-up"

        location = await act_once(
            request, db=db, settings=settings, user_id=user.user_id, form=form, run=run
        )
    except FormProblems as refused:
        return await _reserve(request, db=db, user=user, code=code, problems=refused.problems,
                              values=form, status_code=refused.status_code)  # fmt: skip
    return RedirectResponse(location, status_code=303)


async def _township(db, code: str):
    for t in await townships.listing(db=db):
        if t.code == code:
            return t
    raise NotFound(f"no township {code} in your jurisdiction")


async def _reserve(
    request: Request,
    *,
    db,
    user: Actor,
    code: str,
    problems: Problems | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    township = await _township(db, code)
    try:
        page = max(1, min(int(request.query_params.get("page", "1")), 100_000))
    except ValueError:
        page = 1
    state = ReservePublic.model_validate(await reserves.reserve_of(db=db, township=code))
    ledger = await reserves.ledger(db=db, township=code, page=page, page_size=PAGE_SIZE)
    return render(
        request, "reserve.html", status_code, title=f"{township.name} 临时救助储备金",
        township=township, reserve=state,
        entries=[ReserveEntryPublic.model_validate(e) for e in ledger.items],
        page=page, pages=max(1, -(-ledger.total // PAGE_SIZE)), total=ledger.total,
        tops_up=user.role in TOP_UP.roles, problems=problems or {}, values=values or {},
        done=request.query_params.get("done", ""), kinds=words.LEDGER,
    )  # fmt: skip
