"""Signing in to the console of the embedded stack (a demo user of a chosen role and
jurisdiction), and signing out. Where the district's identity provider is configured, this
sign-in is refused: its users sign in there."""

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.console import session, words
from api.console.access import CHECKED_FORM, OPEN_CONSOLE, allowed, checked_form
from api.console.pages import ConsoleRoute, error_page, render
from api.identity import TokenRefused, UnusableClaims, actor_of
from domain.cases import LEVEL_OF_ROLE, Actor, Role
from settings import Settings

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

LEVELS = {
    "district": "区(6位代码)",
    "township": "镇(街道)(9位代码)",
    "village": "村(社区)(12位代码)",
}
PROVIDER = "本系统已接入统一身份认证，请通过统一身份认证登录；演示登录已关闭。"


@router.get("/sign-in")
async def sign_in_page(request: Request, _user: Actor | None = allowed(OPEN_CONSOLE)) -> Response:
    if _provider(request):
        return error_page(request, 403, PROVIDER)
    return _form(request, values={"next": _next(request.query_params.get("next"))})


@router.post("/sign-in")
async def sign_in(request: Request, _user: Actor | None = allowed(OPEN_CONSOLE)) -> Response:
    if _provider(request):
        return error_page(request, 403, PROVIDER)
    form = await checked_form(request)
    role, jurisdiction = form.get("role", ""), form.get("jurisdiction", "").strip()
    name = form.get("name", "").strip()
    sub = f"{role}-{jurisdiction}"
    claims = {"sub": sub, "name": name or sub, "role": role, "jurisdiction": jurisdiction}
    try:
        user = actor_of(claims)
    except (TokenRefused, UnusableClaims):
        problem = (
            f"{words.ROLES[role]}的辖区应为{LEVELS[LEVEL_OF_ROLE[Role(role)]]}"
            if role in Role.__members__
            else "请选择角色"
        )
        return _form(request, values=form, problem=problem, status_code=422)
    response = RedirectResponse(_next(form.get("next")), status_code=303)
    session.keep(request, response, session.fresh(user))  # a new token at sign-in
    return response


@router.post("/sign-out")
async def sign_out(
    request: Request,
    _user: Actor | None = allowed(OPEN_CONSOLE),
    _form: dict[str, str] = CHECKED_FORM,
) -> Response:
    response = RedirectResponse("/console/sign-in", status_code=303)
    session.end(response)
    return response


def _form(
    request: Request, *, values: dict[str, str], problem: str = "", status_code: int = 200
) -> Response:
    return render(
        request,
        "sign_in.html",
        status_code,
        title="登录",
        # A department liaison (部门转介) uses the API with its department's token, not the console.
        roles={k: v for k, v in words.ROLES.items() if k != "department_liaison"},
        values=values,
        problem=problem,
    )


def _provider(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return bool(settings.jwks_url)


def _next(path: str | None) -> str:
    """Back to the console page that sent the browser here; nowhere else."""
    if path and path.startswith("/console/") and not path.startswith("/console/sign-"):
        return path
    return "/console/"
