"""Signing in to the console, and signing out. With the district's identity provider
configured for the console (``oidc_discovery_url``), the sign-in page sends the browser there
(``api.console.provider``); in the embedded stack it lets one choose a demo user of a role and
jurisdiction, which is refused wherever an identity provider is configured."""

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.console import session, words
from api.console.access import CHECKED_FORM, OPEN_CONSOLE, allowed, checked_form
from api.console.pages import ConsoleRoute, error_page, render
from api.console.provider import Provider, SignInFailed
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
    if provider := Provider.of(request):
        try:
            return await provider.begin(request, next_path=_next(request.query_params.get("next")))
        except SignInFailed as failed:
            return error_page(request, failed.status_code, failed.message)
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


@router.get("/signed-in")
async def signed_in(request: Request, _user: Actor | None = allowed(OPEN_CONSOLE)) -> Response:
    """Where the identity provider sends the browser back."""
    provider = Provider.of(request)
    if provider is None:
        return error_page(request, 404, "没有这个页面。")
    try:
        user, back = await provider.finish(request)
    except SignInFailed as failed:
        response = error_page(request, failed.status_code, failed.message, again=True)
    else:
        response = RedirectResponse(back, status_code=303)
        session.keep(request, response, session.fresh(user))  # a new token at sign-in
    provider.forget(response)
    return response


@router.get("/signed-out")
async def signed_out(request: Request, _user: Actor | None = allowed(OPEN_CONSOLE)) -> Response:
    """After signing out beside a provider: not straight back to it, which would sign the
    user in again at once where the provider still knows them."""
    return render(request, "signed_out.html", title="已退出")


@router.post("/sign-out")
async def sign_out(
    request: Request,
    _user: Actor | None = allowed(OPEN_CONSOLE),
    _form: dict[str, str] = CHECKED_FORM,
) -> Response:
    after = "/console/signed-out" if Provider.of(request) else "/console/sign-in"
    response = RedirectResponse(after, status_code=303)
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
    return settings.identity_provider()


def _next(path: str | None) -> str:
    """Back to the console page that sent the browser here; nowhere else."""
    if path and path.startswith("/console/") and not path.startswith("/console/sign-"):
        return path
    return "/console/"
