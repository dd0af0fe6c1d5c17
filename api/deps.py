"""Typed dependencies: settings, the database, the Temporal client, the signed-in user, the
probes' threads and the metrics."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from temporalio.client import Client

from api.identity import ProviderUnavailable, TokenRefused, TokenVerifier, UnusableClaims
from api.metrics import Metrics
from api.probing import Probes
from domain.cases import Actor
from settings import Settings
from store.db import Database, session_scope


async def get_settings_dep(request: Request) -> Settings:
    """Like every dependency here but ``get_session``, ``async``: FastAPI runs a plain ``def``
    dependency in a worker thread, a thread hop per request for nothing."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """For plain ``def`` routes that read (FastAPI runs them in a thread)."""
    with session_scope(settings.database_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_database(settings: SettingsDep) -> Database:
    """For ``async`` routes, and for every write: short transactions in worker threads."""
    return Database(settings.database_url)


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_temporal(request: Request) -> Client:
    client = request.app.state.temporal
    if client is None:  # not reached yet (``api.main``): the operator sees it in /readyz
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the case engine cannot be reached; nothing was done, try again shortly",
        )
    return client


TemporalDep = Annotated[Client, Depends(get_temporal)]


async def get_temporal_if_reached(request: Request) -> Client | None:
    """For the readiness probe, which says so rather than refusing."""
    return request.app.state.temporal


TemporalIfReachedDep = Annotated[Client | None, Depends(get_temporal_if_reached)]


async def get_probes(request: Request) -> Probes:
    return request.app.state.probes


ProbesDep = Annotated[Probes, Depends(get_probes)]


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]

CaseNo = Annotated[
    str,
    Path(max_length=40, pattern=r"^[0-9A-Za-z-]+$", description="案件号, e.g. 370305-2026-000001"),
]

bearer = HTTPBearer(auto_error=False)


async def signed_in(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The user the bearer token names (``api.identity``); routes get it through
    ``api.permissions.permit``, which also checks what the user may do."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return await verifier.verify(credentials.credentials)
    except TokenRefused as refused:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            str(refused),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    except UnusableClaims as unusable:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(unusable)) from None
    except ProviderUnavailable as unavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(unavailable), headers={"Retry-After": "10"}
        ) from None


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Send the same key when retrying a request: it takes effect once.",
        min_length=1,  # as the idempotency middleware checks it, before any route
        max_length=200,
    ),
]
