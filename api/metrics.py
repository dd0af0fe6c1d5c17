"""The API's Prometheus metrics: requests counted and timed by route template (``Observed``
records them) and the district's figures read from the database at scrape time.

None needs a token, so none shows anything personal: counts and sums by route template,
stage and township code, never a case number or a name.
"""

import time
from collections.abc import Iterator

import structlog
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

from api.probing import Probes
from store.figures import Figures, district_figures

log = structlog.get_logger()

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
"""Seconds; a case action waits up to the action time-out (30 s by default)."""
FIGURES_MIN_SECONDS = 10.0
"""Scrapes closer together than this (two Prometheus servers, say) share one count."""
FIGURES_TIMEOUT_SECONDS = 8.0
"""How long a scrape waits for the figures: within Prometheus's usual 10 s scrape time-out
(under a second for 100,000 cases on SQLite)."""


class Metrics:
    """One API process's metrics: its own registry (never the library's global one)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, database_url: str, *, probes: Probes) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "jiuzhu_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "jiuzhu_http_request_duration_seconds",
            "Time to answer, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.figures = DistrictFigures(database_url, timeout=FIGURES_TIMEOUT_SECONDS, probes=probes)
        self.registry.register(self.figures)

    async def exposition(self) -> bytes:
        """Every metric in the text format, the figures read afresh (at most every
        ``FIGURES_MIN_SECONDS``)."""
        await self.figures.refresh()
        return generate_latest(self.registry)


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
            self.figures = await self.probes.read(self.timeout, self.url, district_figures)
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
