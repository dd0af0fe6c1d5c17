"""/healthz, /readyz (and /health): is the API alive, and can it serve (the database and
Temporal answer), for the operator and the orchestrator. No token; nothing personal."""

import asyncio
from datetime import timedelta

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from temporalio.client import Client

from api.deps import ProbesDep, SettingsDep, TemporalIfReachedDep
from api.permissions import HEALTH, READY, PermittedRoute, permit
from api.probing import Probes
from settings import Settings
from store.db import answers

log = structlog.get_logger()

router = APIRouter(tags=["operations"], route_class=PermittedRoute)


@router.get("/health")
async def health(_: None = permit(HEALTH)) -> dict[str, str]:
    """The process answers; the same as /healthz."""
    return {"status": "ok"}


@router.get("/healthz")
async def alive(_: None = permit(HEALTH)) -> dict[str, str]:
    """The process answers (liveness): nothing else is asked."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a part named in `down` is down"}})
async def ready(
    settings: SettingsDep,
    probes: ProbesDep,
    temporal: TemporalIfReachedDep,
    _: None = permit(READY),
) -> JSONResponse:
    """The database and Temporal answer within the readiness time-out (readiness): 503
    names what does not."""
    checks = dict(
        zip(
            ("database", "temporal"),
            await asyncio.gather(
                database_answers(settings, probes), temporal_answers(temporal, settings)
            ),
            strict=True,
        )
    )
    down = [part for part, ok in checks.items() if not ok]
    answer = {part: "ok" if ok else "down" for part, ok in checks.items()}
    if down:
        log.warning("api.not_ready", down=down)
        return JSONResponse(
            {
                "status": "unavailable",
                "down": down,
                "checks": answer,
                "detail": f"not ready: {' and '.join(down)} did not answer within "
                f"{settings.readiness_timeout_seconds:g} s",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "checks": answer})


async def database_answers(settings: Settings, probes: Probes) -> bool:
    try:
        await probes.read(settings.readiness_timeout_seconds, settings.database_url, answers)
        return True
    except Exception as error:
        log.warning("api.database_down", error=type(error).__name__)
        return False


async def temporal_answers(client: Client | None, settings: Settings) -> bool:
    if client is None:  # not reached since the API started
        return False
    timeout = settings.readiness_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            return await client.service_client.check_health(timeout=timedelta(seconds=timeout))
    except Exception as error:
        log.warning("api.temporal_down", error=type(error).__name__)
        return False
