"""The lists of applications and of emergencies, with the API's filters, paged: each row as
the API's list shows it (``ApplicationListItem``, ``EmergencyListItem``: the applicant's ID
number masked, whoever reads), of the user's jurisdiction only."""

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.console.access import allowed
from api.console.pages import ConsoleRoute, render
from api.deps import DatabaseDep
from api.models import ApplicationListItem, EmergencyListItem
from api.permissions import ACCEPT_APPLICATION, LIST_CASES
from domain.cases import Actor, AssistanceType, Stage
from domain.emergency import Cause, EmergencyStage
from domain.townships import covers
from services import cases, townships
from services.cases import APPLICATIONS, EMERGENCIES, CaseKind

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50


@router.get("/applications")
async def applications(
    request: Request, db: DatabaseDep, user: Actor = allowed(LIST_CASES)
) -> Response:
    """救助申请: oldest deadline first, as GET /applications."""
    return await _list(request, db, user, APPLICATIONS, "assistance_type", AssistanceType, Stage)


@router.get("/emergencies")
async def emergencies(
    request: Request, db: DatabaseDep, user: Actor = allowed(LIST_CASES)
) -> Response:
    """急难型临时救助: the most pressing payout first, as GET /emergencies."""
    return await _list(request, db, user, EMERGENCIES, "cause", Cause, EmergencyStage)


async def _list(request, db, user: Actor, kind: CaseKind, type_field: str, types, stages):
    q = request.query_params
    filters = {k: q.get(k, "").strip() for k in ("stage", "township", type_field, "overdue")}
    problems = []
    if filters["stage"] and filters["stage"] not in stages.__members__:
        problems.append("阶段：请从列表中选择")
    township = filters["township"]
    if township and not (township.isascii() and township.isdigit() and len(township) == 9):
        problems.append("镇(街道)：请从列表中选择")
    if filters[type_field] and filters[type_field] not in types.__members__:
        problems.append("类型：请从列表中选择")
    if filters["overdue"] not in ("", "true", "false"):
        problems.append("是否超期：请从列表中选择")
    try:
        page = int(q.get("page", "1"))
        if not 1 <= page <= 100_000:
            raise ValueError
    except ValueError:
        problems.append("页码有误")
        page = 1
    rows, total = [], 0
    if not problems:
        equal = {k: v or None for k, v in filters.items() if k != "overdue"}
        equal["overdue"] = {"": None, "true": True, "false": False}[filters["overdue"]]
        listed = await cases.listing(
            db=db, kind=kind, user=user, equal=equal, page=page, page_size=PAGE_SIZE
        )
        item = ApplicationListItem if kind is APPLICATIONS else EmergencyListItem
        rows = [item.of(c.view, applicant_id_number=c.applicant_id_number) for c in listed.items]
        total = listed.total
    found = await townships.listing(db=db)
    names = {t.code: t.name for t in found} | {v.code: v.name for t in found for v in t.villages}
    mine = {
        t.code: t.name
        for t in found
        if covers(user.jurisdiction, t.code) or covers(t.code, user.jurisdiction)
    }
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(
        request, "cases.html", 422 if problems else 200,
        title="救助申请" if kind is APPLICATIONS else "急难型临时救助", kind=kind.name,
        rows=rows, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
        problems=problems, filters=filters, type_field=type_field, types=list(types),
        stages=list(stages), names=names, townships=mine, query=query,
        accepts=kind is APPLICATIONS and user.role in ACCEPT_APPLICATION.roles,
    )  # fmt: skip
