"""The console's session: a cookie signed with the console's secret (HttpOnly, SameSite=Lax,
for /console only) holding the signed-in user and the token every form carries (CSRF).
Signing out deletes it; it ends by itself ``console_session_hours`` after sign-in."""

import secrets
from dataclasses import asdict, dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from domain.cases import Actor, Role
from settings import Settings

COOKIE = "jiuzhu_console"
PATH = "/console"


@dataclass(frozen=True)
class ConsoleSession:
    csrf: str
    """The token of this session's forms."""
    user: Actor | None = None


class SignInNeeded(Exception):
    """No one is signed in: the page sends the browser to the sign-in page."""


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.console_secret(), salt="jiuzhu-console-session")


def fresh(user: Actor | None = None) -> ConsoleSession:
    return ConsoleSession(csrf=secrets.token_urlsafe(32), user=user)


def current(request: Request) -> ConsoleSession | None:
    """The request's session, if its cookie is ours, intact and not expired."""
    if hasattr(request.state, "console_session"):
        return request.state.console_session
    settings: Settings = request.app.state.settings
    found = None
    if cookie := request.cookies.get(COOKIE):
        try:
            data = _signer(settings).loads(
                cookie, max_age=int(settings.console_session_hours * 3600)
            )
            user = data.get("user")
            found = ConsoleSession(
                csrf=data["csrf"],
                user=Actor(**(user | {"role": Role(user["role"])})) if user else None,
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            found = None
    request.state.console_session = found
    return found


def signed_in_user(request: Request) -> Actor:
    session = current(request)
    if session is None or session.user is None:
        raise SignInNeeded
    return session.user


def keep(request: Request, response: Response, session: ConsoleSession) -> None:
    """Set the session's cookie on the response."""
    settings: Settings = request.app.state.settings
    data = {"csrf": session.csrf, "user": asdict(session.user) if session.user else None}
    response.set_cookie(
        COOKIE,
        _signer(settings).dumps(data),
        max_age=int(settings.console_session_hours * 3600),
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    request.state.console_session = session


def end(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="lax")
