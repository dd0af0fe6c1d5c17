"""Typed dependencies: settings, the database, the Temporal client, the current user."""

from collections.abc import Iterator
from typing import Annotated

import jwt
from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from temporalio.client import Client

from api.tokens import UnusableClaims, read_token
from domain.cases import Actor, Role
from settings import Settings
from store.db import Database, session_scope


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """For plain ``def`` routes that read (FastAPI runs them in a thread)."""
    with session_scope(settings.database_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_database(settings: SettingsDep) -> Database:
    """For ``async`` routes, and for every write: short transactions in worker threads."""
    return Database(settings.database_url)


DatabaseDep = Annotated[Database, Depends(get_database)]


def get_temporal(request: Request) -> Client:
    return request.app.state.temporal


TemporalDep = Annotated[Client, Depends(get_temporal)]

_bearer = HTTPBearer(auto_error=False)


def get_current_user(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return read_token(credentials.credentials, secret=settings.jwt_secret)
    except jwt.InvalidTokenError:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the token is invalid or expired; sign in again",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    except UnusableClaims as unusable:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(unusable)) from None


CurrentUser = Annotated[Actor, Depends(get_current_user)]


def allow(*roles: Role):
    """Route permission: only these roles may call it (403 for the others)."""

    def check(user: CurrentUser) -> Actor:
        if user.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role '{user.role}' may not do this; allowed: {allowed}"
            )
        return user

    return Depends(check)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Send the same key when retrying a request: it takes effect once.",
        max_length=200,
    ),
]
