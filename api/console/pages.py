"""How a console page is made: Jinja2 templates (autoescaped: text from the records shows as
text), the signed-in user and the form token in every page, and every refusal as a page in
Chinese rather than the API's JSON (``ConsoleRoute``)."""

import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from api.console import session, words
from api.errors import STATUS
from api.permissions import LIST_CASES, READ_RESERVE, SUPERVISE, PermittedRoute
from domain.errors import CaseError, NotFound

log = structlog.get_logger()

HERE = Path(__file__).parent
SIGN_IN = "/console/sign-in"

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(words.FILTERS)
_env.globals["new_key"] = lambda: str(uuid.uuid4())
templates = Jinja2Templates(env=_env)


class FormRefused(Exception):
    """A form without its session's token (CSRF): refused, 403."""


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """The page ``name`` for the request's user; a visitor without a session gets one (its
    forms need their token)."""
    found = session.current(request)
    current = found or session.fresh()
    user = current.user
    response = templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf": current.csrf,
            "supervises": user is not None and user.role in SUPERVISE.roles,
            "reads_reserves": user is not None and user.role in READ_RESERVE.roles,
            "lists_cases": user is not None and user.role in LIST_CASES.roles,
            **context,
        },
        status_code=status_code,
    )
    if found is None:
        session.keep(request, response, current)
    return response


def error_page(
    request: Request, status_code: int, message: str, *, again: bool = False
) -> Response:
    """A refusal in Chinese; with ``again``, a link to sign in again rather than home."""
    titles = {403: "无权访问", 404: "未找到", 409: "无法办理", 422: "请求有误", 503: "暂时不可用"}
    return render(
        request,
        "error.html",
        status_code,
        title=titles.get(status_code, "出错了"),
        message=message,
        again=again,
    )


def sign_in_redirect(request: Request) -> Response:
    back = request.url.path if request.method == "GET" else "/console/"
    return RedirectResponse(f"{SIGN_IN}?next={quote(back)}", status_code=303)


class ConsoleRoute(PermittedRoute):
    """A console route: one declared permission, as every API route (``PermittedRoute``);
    what refuses it answers a page in Chinese, and no session sends the browser to sign in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def console_page(request: Request) -> Response:
            try:
                return await handle(request)
            except session.SignInNeeded:
                return sign_in_redirect(request)
            except FormRefused:
                return error_page(
                    request, 403, "表单已失效或不是从本系统提交的，请刷新页面后重试。"
                )
            except NotFound:
                return error_page(request, 404, "在您的辖区内没有找到这个页面或案件。")
            except CaseError as refused:
                return error_page(request, STATUS[type(refused)], words.refusal(refused))
            except RequestValidationError:
                return error_page(request, 422, "请求的地址或参数有误。")
            except HTTPException as refused:
                if refused.status_code == 404:
                    return error_page(request, 404, "在您的辖区内没有找到这个页面或案件。")
                if refused.status_code == 403:
                    return error_page(request, 403, f"您的角色无权进行此操作（{refused.detail}）。")
                if refused.status_code == 503:
                    return error_page(request, 503, words.UNAVAILABLE)
                log.warning("console.refused", path=request.url.path, status=refused.status_code)
                return error_page(request, refused.status_code, str(refused.detail))

        return console_page
