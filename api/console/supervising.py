"""The console's pages of cases: the home page, the cases that are not moving (督办), one case,
and a supervisor's actions on it. Each calls the service the API's route calls, under that
route's permission."""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response
from temporalio.client import Client

from api.console import actions as casework
from api.console import once, words
from api.console.access import CHECKED_FORM, USE_CONSOLE, allowed
from api.console.pages import ConsoleRoute, render
from api.deps import DatabaseDep, SettingsDep, TemporalDep
from api.errors import STATUS
from api.permissions import (
    EXTEND_DEADLINE,
    INTERVENE,
    LIST_CASES,
    PERMITTED_CASE,
    READ_CASE,
    READ_TIMELINE,
    SUPERVISE,
)
from api.routes.supervision import ExtensionCreate, InterventionCreate
from domain import emergency
from domain.calendar import local_date
from domain.cases import OPEN_STAGES, Actor, Intervention, InterventionRecord
from domain.errors import CaseError, NotFound, Unavailable
from domain.milestones import application_milestones, emergency_milestones
from domain.supervision import Reason
from services import cases, evidence, supervision, townships
from services.cases import APPLICATIONS, EMERGENCIES, KINDS
from settings import Settings
from store.db import Database
from store.jurisdiction import CaseRef

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50
OPEN = {*OPEN_STAGES, *emergency.OPEN}
"""Where a case waits for someone (the home page's list)."""
ACTIONS = ["reverify", "retry-now", "reassign", "escalate", "reopen", "cancel", "restart-orphan"]
HALTED_ACTIONS = ["restart", "close"]
STUCK_KINDS = ("application", "emergency", "recipient", "payroll", "referral")


@router.get("/")
async def home(request: Request, db: DatabaseDep, settings: SettingsDep,
               user: Actor = allowed(USE_CONSOLE)) -> Response:  # fmt: skip
    """What waits for the user: a supervisor's (and the overseers') count of cases not moving;
    a caseworker's cases, the most pressing first."""
    summary, waiting = None, []
    if user.role in SUPERVISE.roles:
        summary = await supervision.summary(
            db=db, user=user, thresholds=settings.supervision, policy=settings.policy
        )
    elif user.role in LIST_CASES.roles:
        for kind in (APPLICATIONS, EMERGENCIES):
            listed = await cases.listing(
                db=db, kind=kind, user=user, equal={}, page=1, page_size=20
            )
            waiting += [c.view for c in listed.items if c.view.stage in OPEN][:10]
    return render(
        request, "home.html", title="首页", summary=summary, waiting=waiting,
        names=await _names(db),
    )  # fmt: skip


@router.get("/stuck")
async def stuck(
    request: Request,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = allowed(SUPERVISE),
    township: str = "",
    kind: str = "",
    reason: str = "",
    page: int = 1,
) -> Response:
    """超时与卡住的案件: the supervision list, the most urgent first."""
    problems = []
    if township and not (township.isascii() and township.isdigit() and len(township) == 9):
        problems.append("镇(街道)代码应为9位数字")
    if kind and kind not in STUCK_KINDS:
        problems.append("请从列表中选择案件类别")
    if reason and reason not in Reason.__members__:
        problems.append("请从列表中选择原因")
    page = max(1, min(page, 100_000))
    rows, total = [], 0
    if not problems:
        found = await supervision.stuck(
            db=db, client=client, user=user, township=township or None, kind=kind or None,
            reason=Reason(reason) if reason else None, thresholds=settings.supervision,
            page=page, page_size=PAGE_SIZE, policy=settings.policy,
        )  # fmt: skip
        rows, total = [r.stuck for r in found.items], found.total
    return render(
        request, "stuck.html", 422 if problems else 200, title="超时与卡住的案件", rows=rows,
        total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)), problems=problems,
        filters={"township": township, "kind": kind, "reason": reason},
        kinds=STUCK_KINDS, reasons=list(supervision.ORDER), names=await _names(db),
        waits_for=words.waits_for,
    )  # fmt: skip


@router.get("/cases/{case_no}")
async def case_page(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    user: Actor = allowed(READ_CASE),
    case: CaseRef = PERMITTED_CASE,
) -> Response:
    """案件: its stage, family, payments and trail; a supervisor's actions."""
    done = request.query_params.get("done", "")
    return await case_view(request, db=db, settings=settings, user=user, case=case, done=done)


@router.post("/cases/{case_no}/extend-deadline")
async def extend_deadline(
    request: Request,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = allowed(EXTEND_DEADLINE),
    case: CaseRef = PERMITTED_CASE,
    form: dict[str, str] = CHECKED_FORM,
) -> Response:
    """The API's /supervision/cases/{case_no}/extend-deadline, as a form."""
    return await _intervene(request, "extend-deadline", db, client, settings, user, case, form)


@router.post("/cases/{case_no}/{action}")
async def intervene(
    request: Request,
    action: str,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = allowed(INTERVENE),
    case: CaseRef = PERMITTED_CASE,
    form: dict[str, str] = CHECKED_FORM,
) -> Response:
    """The API's /supervision/cases/{case_no}/{action}, as a form."""
    if action not in ACTIONS + HALTED_ACTIONS:
        raise NotFound(f"no action {action}")
    return await _intervene(request, action, db, client, settings, user, case, form)


async def _intervene(
    request: Request,
    action: str,
    db: Database,
    client: Client,
    settings: Settings,
    user: Actor,
    case: CaseRef,
    form: dict[str, str],
) -> Response:
    """The form's action through ``services.supervision.intervene``, as the API's route takes
    it; a refusal re-renders the case with the message next to the form."""
    fields = {"reason": form.get("reason", "")}
    try:
        if action == "extend-deadline":
            if days := form.get("working_days", "").strip():
                fields |= {"working_days": days}
            body = ExtensionCreate(**fields)
        else:
            fields |= {"assignee": form.get("assignee") or None}
            fields |= {"to_stage": form.get("to_stage") or None}
            body = InterventionCreate(**fields)
    except ValidationError as invalid:
        problems = [
            words.problem(str(p["loc"][0]) if p["loc"] else "", p["type"], p["msg"])
            for p in invalid.errors()
        ]
        return await case_view(request, db=db, settings=settings, user=user, case=case,
                           failed=action, problems=problems, values=form, status_code=422)  # fmt: skip
    record = InterventionRecord(
        actor=user,
        action=Intervention(action.replace("-", "_")),
        reason=body.reason,
        assignee=getattr(body, "assignee", None),
        to_stage=getattr(body, "to_stage", None),
        working_days=getattr(body, "working_days", None),
    )
    key = form.get("idempotency_key", "")

    async def act() -> str:
        await supervision.intervene(
            db=db, client=client, settings=settings, case=case, record=record, key=key
        )
        return f"/console/cases/{case.case_no}?done={action}"

    try:
        location = await once.submit(
            db=db, user_id=user.user_id, key=key,
            fingerprint=once.fingerprint(request.url.path, form),
            hold=timedelta(seconds=settings.action_timeout_seconds + 10), run=act,
        )  # fmt: skip
    except CaseError as refused:
        return await case_view(request, db=db, settings=settings, user=user, case=case,
                           failed=action, problems=[words.refusal(refused)], values=form,
                           status_code=STATUS[type(refused)])  # fmt: skip
    return RedirectResponse(location, status_code=303)


async def case_view(
    request: Request,
    *,
    db: Database,
    settings: Settings,
    user: Actor,
    case: CaseRef,
    done: str = "",
    failed: str = "",
    problems: list[str] | None = None,
    form_problems: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The case page; after a refused form, with its problems (``problems`` of a supervisor's
    form, ``form_problems`` of a caseworker's by field) and what was typed."""
    kind = KINDS[case.kind]
    read = await cases.read(db=db, kind=kind, case=case, user=user, ring=settings.key_ring())
    trail = await cases.trail(db=db, kind=kind, case=case, user=user)
    actions = []
    if user.role in INTERVENE.roles:
        actions = ACTIONS + (HALTED_ACTIONS if read.view.stage == "halted" else [])
    if user.role in EXTEND_DEADLINE.roles:
        actions.insert(min(4, len(actions)), "extend-deadline")
    now = datetime.now(UTC)
    milestones = (
        application_milestones(read.view, now=now)
        if case.kind == "application"
        else emergency_milestones(read.view, now=now)
    )
    return render(
        request, "case.html", status_code, title=f"案件 {case.case_no}", case=read.view,
        milestones=milestones, evidence=await _evidence(request, db=db, user=user, case=case),
        kind=case.kind, family=read.family, trail=list(reversed(trail)), actions=actions,
        done=done, failed=failed, problems=problems or [], values=values or {},
        names=await _names(db),
        casework=casework.offered(user, case.kind, str(read.view.stage), policy=settings.policy),
        form_problems=form_problems or {},
        others=casework.others(form_problems or {}, failed),
        today=local_date(datetime.now(UTC)).isoformat(),
    )  # fmt: skip


async def _evidence(
    request: Request, *, db: Database, user: Actor, case: CaseRef
) -> evidence.Timeline | str | None:
    """The evidence check of the case's trail (its workflow's history beside its audit trail,
    the API's /audit/cases/{case_no}/timeline) for those who may read it; "unavailable" when
    the case engine cannot be asked now (the page still shows)."""
    if user.role not in READ_TIMELINE.roles:
        return None
    client: Client | None = request.app.state.temporal
    if client is None:
        return "unavailable"
    try:
        return await evidence.timeline(db=db, client=client, case=case)
    except Unavailable:
        return "unavailable"


async def _names(db: Database) -> dict[str, str]:
    """Township and village names by code."""
    found = {}
    for township in await townships.listing(db=db):
        found[township.code] = township.name
        found |= {v.code: v.name for v in township.villages}
    return found
