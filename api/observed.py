"""Every request counted and timed by its route template (``/applications/{case_no}``) and,
when tracing is on, wrapped in a span that the case's workflow Update and activities continue."""

import re
import time

from fastapi import FastAPI
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from starlette.datastructures import Headers
from starlette.routing import Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Other methods (any token a client makes up) are counted as ``other``: a label per made-up
method would let any caller grow the metrics without bound."""
UNMATCHED = "unmatched"
"""The route label of a path no route serves: raw paths would make a label per caller's typo."""


def observe(app: FastAPI, metrics: Metrics, tracer: Tracer | None) -> None:
    """Adds the middleware to ``app``; added last, it is the first to see a request, so a 413
    or a 401 is counted too."""
    app.add_middleware(Observed, templates=RouteTemplates(app), metrics=metrics, tracer=tracer)


class Observed:
    """Outermost middleware: counts, times and (when tracing is on) traces every request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        templates: "RouteTemplates",
        metrics: Metrics,
        tracer: Tracer | None,
    ) -> None:
        self.app = app
        self.templates = templates
        self.requests = metrics.requests
        self.latency = metrics.latency
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
