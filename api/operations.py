"""What the operator and the orchestrator ask of the API: is it alive (/healthz), can it serve
(/readyz: the database and Temporal answer), and its metrics (/metrics, for Prometheus).

None needs a token, so none shows anything personal: the metrics are counts and sums by route
template, stage and township code, never a case number or a name.

Every request is counted and timed by its route template (``/applications/{case_no}``), and,
when tracing is on, wrapped in a span that the case's workflow Update and activities continue.
"""

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlmodel import Session
from starlette.datastructures import Headers
from starlette.routing import Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from api.permissions import HEALTH, METRICS, READY, PermittedRoute, permit
from settings import Settings
from store.db import session_scope
from store.figures import Figures, district_figures

log = structlog.get_logger()
T = TypeVar("T")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Other methods (any token a client makes up) are counted as ``other``: a label per made-up
method would let any caller grow the metrics without bound."""
UNMATCHED = "unmatched"
"""The route label of a path no route serves: raw paths would make a label per caller's typo."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
"""Seconds; a case action waits up to the action time-out (30 s by default)."""
FIGURES_MIN_SECONDS = 10.0
"""Scrapes closer together than this (two Prometheus servers, say) share one count."""
FIGURES_TIMEOUT_SECONDS = 8.0
"""How long a scrape waits for the figures: within Prometheus's usual 10 s scrape time-out
(under a second for 100,000 cases on SQLite)."""

PROBE_THREADS = 4


class Probes:
    """Database probes in threads of their own, at most ``PROBE_THREADS`` at once per API
    process. A database that never answers holds these threads (until its driver gives up),
    never the threads the case routes need, and never more of them: while all are held, a
    probe reports the database down at once. Daemon threads: a hung one does not hold up the
    process's exit."""

    def __init__(self, threads: int = PROBE_THREADS) -> None:
        self.slots = threading.BoundedSemaphore(threads)

    async def run(self, timeout: float, work: Callable[..., T], *args: Any) -> T:
        if not self.slots.acquire(blocking=False):
            raise TimeoutError("every probe thread still waits for the database")
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if not answer.done():  # not given up on
                if error is None:
                    answer.set_result(result)
                else:
                    answer.set_exception(error)

        def probe() -> None:
            try:
                result, error = work(*args), None
            except BaseException as failure:
                result, error = None, failure
            finally:
                self.slots.release()
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(settle, result, error)

        threading.Thread(target=probe, name="jiuzhu-probe", daemon=True).start()
        return await asyncio.wait_for(answer, timeout)


class Observed:
    """Outermost middleware: counts, times and (when tracing is on) traces every request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        templates: "RouteTemplates",
        requests: Counter,
        latency: Histogram,
        tracer: Tracer | None,
    ) -> None:
        self.app = app
        self.templates = templates
        self.requests = requests
        self.latency = latency
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = self.templates.of(scope["path"])
        status = 500  # unless the app answers otherwise; an exception is a 500
        began = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        span = (
            self.tracer.start_as_current_span(
                f"{method} {route}",
                context=extract(dict(Headers(scope=scope))),  # a caller's W3C traceparent
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "http.route": route},
            )
            if self.tracer
            else None
        )
        try:
            if span is None:
                await self.app(scope, receive, sending)
            else:
                with span as current:
                    try:
                        await self.app(scope, receive, sending)
                    finally:
                        current.set_attribute("http.response.status_code", status)
                        if status >= 500:
                            current.set_status(StatusCode.ERROR)
        finally:
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(time.perf_counter() - began)


class RouteTemplates:
    """The route template a path belongs to, from the API's own schema (``/openapi.json``)
    and its plain routes (``/docs``), whatever the method: a refusal before routing (413,
    an idempotency conflict) is counted under the route it was meant for."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.table: list[tuple[re.Pattern[str], str]] | None = None

    def of(self, path: str) -> str:
        if self.table is None:  # at the first request: every route is in by then
            templates = set(self.app.openapi()["paths"]) | {
                route.path for route in self.app.router.routes if isinstance(route, Route)
            }
            # The most specific first: /audit/verify before a /audit/{anything}.
            ordered = sorted(templates, key=lambda t: (t.count("{"), t))
            self.table = [(compile_path(t)[0], t) for t in ordered]
        for pattern, template in self.table:
            if pattern.match(path):
                return template
        return UNMATCHED


class DistrictFigures(Collector):
    """The district's figures from the database, as Prometheus gauges and counters; read at
    scrape time (``refresh``, off the event loop), so every API replica serves the same
    numbers: a dashboard takes their ``max``, never their sum."""

    def __init__(self, url: str, *, timeout: float, probes: Probes) -> None:
        self.url = url
        self.probes = probes
        self.timeout = timeout
        self.figures: Figures | None = None
        self.read_at = float("-inf")

    async def refresh(self) -> None:
        if time.monotonic() - self.read_at < FIGURES_MIN_SECONDS:
            return
        try:
            self.figures = await self.probes.run(self.timeout, _read, self.url, district_figures)
        except Exception as error:  # stale figures would mislead: none, and say so
            log.warning("api.figures_unavailable", error=type(error).__name__)
            self.figures = None
        self.read_at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "jiuzhu_figures_up", "1 when the case figures below could be read from the database"
        )
        up.add_metric([], 1 if self.figures else 0)
        yield up
        if self.figures is None:
            return
        f = self.figures
        cases = GaugeMetricFamily(
            "jiuzhu_cases",
            "Cases by kind (application, emergency), stage and township",
            labels=["kind", "stage", "township"],
        )
        for labels, count in sorted(f.cases.items()):
            cases.add_metric(list(labels), count)
        yield cases
        overdue = GaugeMetricFamily(
            "jiuzhu_cases_overdue",
            "Open cases past a deadline (survey, decision, written refusal, 24-hour payout, "
            "follow-up), by kind and township",
            labels=["kind", "township"],
        )
        for labels, count in sorted(f.overdue.items()):
            overdue.add_metric(list(labels), count)
        yield overdue
        for name, index, what in (
            ("balance", 0, "Money in the township's emergency reserve (临时救助储备金)"),
            ("held", 1, "Part of the reserve held for payments under way"),
            ("minimum", 2, "The reserve's minimum; below it the district is told"),
        ):
            gauge = GaugeMetricFamily(
                f"jiuzhu_reserve_{name}_yuan", f"{what}, yuan", labels=["township"]
            )
            for township, amounts in sorted(f.reserves.items()):
                gauge.add_metric([township], float(amounts[index]))
            yield gauge
        payments = CounterMetricFamily(
            "jiuzhu_payments",
            "Payments by outcome: made (an application's first payment, an emergency payout) "
            "or refused for good by the payment system, by kind and township",
            labels=["kind", "outcome", "township"],
        )
        for (kind, township), count in sorted(f.payments_made.items()):
            payments.add_metric([kind, "made", township], count)
        for (kind, township), count in sorted(f.payments_refused.items()):
            payments.add_metric([kind, "refused", township], count)
        yield payments


def observe(app: FastAPI, settings: Settings, tracer: Tracer | None) -> None:
    """Adds the metrics, the middleware and the three routes to ``app`` (its last middleware:
    the first to see a request, so a 413 or a 401 is counted too)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    requests = Counter(
        "jiuzhu_http_requests",
        "HTTP requests answered, by method, route template and status",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "jiuzhu_http_request_duration_seconds",
        "Time to answer, by method and route template",
        ["method", "route"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    probes = Probes()
    figures = DistrictFigures(settings.database_url, timeout=FIGURES_TIMEOUT_SECONDS, probes=probes)
    registry.register(figures)
    app.state.metrics = registry
    app.add_middleware(
        Observed, templates=RouteTemplates(app), requests=requests, latency=latency, tracer=tracer
    )
    router = APIRouter(tags=["operations"], route_class=PermittedRoute)

    @router.get("/healthz")
    async def alive(_: None = permit(HEALTH)) -> dict[str, str]:
        """The process answers (liveness): nothing else is asked."""
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"description": "a part named in `down` is down"}})
    async def ready(request: Request, _: None = permit(READY)) -> JSONResponse:
        """The database and Temporal answer within the readiness time-out (readiness): 503
        names what does not."""
        checks = dict(
            zip(
                ("database", "temporal"),
                await asyncio.gather(
                    database_answers(settings, probes),
                    temporal_answers(request.app.state.temporal, settings),
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

    @router.get("/metrics", response_class=Response)
    async def metrics(_: None = permit(METRICS)) -> Response:
        """Prometheus metrics (text exposition format): counts only, nothing personal."""
        await figures.refresh()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)


def _read(url: str, work: Callable[[Session], T]) -> T:
    with session_scope(url) as session:
        return work(session)


def _select_one(session: Session) -> None:
    session.exec(text("SELECT 1"))


async def database_answers(settings: Settings, probes: Probes) -> bool:
    try:
        await probes.run(
            settings.readiness_timeout_seconds, _read, settings.database_url, _select_one
        )
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
