"""The jiuzhu HTTP API. OpenAPI at /docs."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

import telemetry
from api import console
from api.body import BoundedBody
from api.errors import (
    UnexpectedErrors,
    http_refused,
    records_unavailable_answer,
    refusal_answer,
    request_invalid,
)
from api.idempotency import IdempotencyMiddleware
from api.identity import TokenVerifier
from api.metrics import Metrics
from api.observed import observe
from api.permissions import KnownCases, PermittedRoute
from api.probing import Probes
from api.routes import (
    applications,
    calendar,
    codec,
    compliance,
    emergencies,
    evidence,
    metrics,
    notifications,
    payrolls,
    policy,
    probes,
    recipients,
    referrals,
    reserves,
    reviews,
    supervision,
    sweeps,
    townships,
    watch_list,
)
from domain.errors import CaseError
from domain.sealing import Unsealable
from logs import configure_logging
from settings import Settings, get_settings
from workflows.client import connect

log = structlog.get_logger()

TEMPORAL_FIRST_WAIT_SECONDS = 5
TEMPORAL_RETRY_MAX_SECONDS = 15


def create_app(
    settings: Settings | None = None,
    *,
    temporal: Client | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """``tracer_provider`` replaces the one ``JIUZHU_TRACING_ENDPOINT`` makes (tests)."""
    settings = settings or get_settings()
    own_provider = tracer_provider is None
    provider = tracer_provider or telemetry.tracer_provider(
        settings.tracing_endpoint, service="jiuzhu-api"
    )
    tracer = telemetry.tracer(provider)

    async def reach_temporal(app: FastAPI, tried: asyncio.Event) -> None:
        """Connect, and keep trying while Temporal cannot be reached: the API serves its probes
        meanwhile (/readyz names Temporal) and answers case routes 503 "try again"."""
        wait = 0.5
        while app.state.temporal is None:
            try:
                app.state.temporal = await connect(
                    settings.temporal_address,
                    settings.temporal_namespace,
                    ring=settings.key_ring(),
                    interceptors=telemetry.temporal_interceptors(tracer),
                )
                log.info("api.temporal_reached", temporal=settings.temporal_address)
            except Exception as error:  # the SDK's core says RuntimeError, whatever went wrong
                log.warning("api.temporal_unreachable", error=str(error), retry_in=wait)
                tried.set()
                await asyncio.sleep(wait)
                wait = min(wait * 2, TEMPORAL_RETRY_MAX_SECONDS)
        tried.set()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.temporal = temporal
        tried = asyncio.Event()
        reaching = asyncio.create_task(reach_temporal(app, tried))
        # Start connected when Temporal answers (no 503s in the API's first moments); when it
        # refuses, or stays silent past the bound, start all the same and keep trying.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tried.wait(), TEMPORAL_FIRST_WAIT_SECONDS)
        log.info("api.started", temporal=settings.temporal_address, tracing=tracer is not None)
        yield
        reaching.cancel()
        if provider and own_provider:
            provider.shutdown()  # the last spans leave

    app = FastAPI(
        title="jiuzhu 救助",
        summary="Social-assistance cases of the district, from acceptance to payment",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.router.route_class = PermittedRoute
    app.state.settings = settings
    # One verifier for every token the API reads: the routes' and the idempotency middleware's.
    app.state.verifier = verifier = TokenVerifier.from_settings(settings)
    app.state.known_cases = KnownCases()
    app.state.probes = Probes()
    app.state.metrics = Metrics(settings.database_url, probes=app.state.probes)
    # The last added runs first: CORS of the codec routes answers even a refused request;
    # the body is bounded before anything reads it.
    app.add_middleware(IdempotencyMiddleware, settings=settings, verifier=verifier)
    app.add_middleware(BoundedBody, max_bytes=settings.max_body_kib * 1024)
    app.add_middleware(codec.CodecCors, origins=settings.codec_cors_origins)
    # Inside the metrics' middleware, which counts its 500s.
    app.add_middleware(UnexpectedErrors)
    for module in (
        applications,
        emergencies,
        recipients,
        reviews,
        referrals,
        sweeps,
        watch_list,
        payrolls,
        reserves,
        townships,
        calendar,
        notifications,
        policy,
        supervision,
        compliance,
        evidence,
        codec,
        probes,
        metrics,
    ):
        app.include_router(module.router)
    console.install(app)  # the web console, under /console/ (not in the OpenAPI schema)

    # Counts, times and traces every request: added last, it runs first.
    observe(app, app.state.metrics, tracer)

    @app.exception_handler(CaseError)
    async def refused(_request: Request, error: CaseError) -> JSONResponse:
        return refusal_answer(error)

    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(StarletteHTTPException, http_refused)

    @app.exception_handler(OperationalError)
    async def records_unavailable(request: Request, error: OperationalError) -> JSONResponse:
        log.error("api.database_unavailable", path=request.url.path, error=str(error.orig))
        return records_unavailable_answer()

    @app.exception_handler(Unsealable)
    async def unreadable(request: Request, error: Unsealable) -> JSONResponse:
        # A key taken out of the ring while data sealed with it is still in use.
        log.error("api.unreadable", path=request.url.path, error=str(error))
        return JSONResponse(
            {
                "detail": f"this case's data cannot be decrypted; tell the system administrator: "
                f"{error}"
            },
            status_code=503,
        )

    return app


def app() -> FastAPI:
    """Factory for ``uvicorn --factory api.main:app``."""
    settings = get_settings()
    configure_logging(fmt=settings.log_format, level=settings.log_level, process="api")
    return create_app(settings)
