"""Who may open a console page: the permission of the API route whose service the page calls,
checked of the session's user exactly as of a bearer token's (``api.permissions.authorize``),
and the token every posted form must carry (CSRF)."""

import secrets
from typing import Any

from fastapi import Depends, Request

from api.console import session
from api.console.pages import FormRefused
from api.permissions import EVERYONE, Permission, Scope, authorize
from domain.cases import Actor

OPEN_CONSOLE = Permission("open the web console", EVERYONE, Scope.none, sign_in=False)
"""The sign-in page, sign-out and a page not found: no one need be signed in."""
USE_CONSOLE = Permission("use the web console", EVERYONE, Scope.none)
"""The home page: what it shows depends on the permissions of the user's role."""


def allowed(permission: Permission) -> Any:
    """The route's user parameter: the session's user, once the permission allows the request
    (no session: the browser is sent to sign in)."""

    async def check(request: Request) -> Actor | None:
        if not permission.sign_in:
            current = session.current(request)
            return current.user if current else None
        return await authorize(permission, request, session.signed_in_user(request))

    check.permission = permission  # type: ignore[attr-defined]
    return Depends(check)


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form's fields, once its token is the session's (else ``FormRefused``)."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    current = session.current(request)
    sent = fields.get("csrf", "")
    if current is None or not sent or not secrets.compare_digest(sent, current.csrf):
        raise FormRefused
    return fields


CHECKED_FORM: Any = Depends(checked_form)
