"""What the API and the worker tell the operator beyond their logs: traces (OpenTelemetry) and
the worker's Temporal SDK metrics (Prometheus). Both are off until their setting is given.

Tracing follows a request from the API through the workflow's Update to its activities:
the API opens a span per request, and Temporal's ``TracingInterceptor`` (on the client, hence
on the worker too) carries the trace in the headers of every workflow call.
"""

from collections.abc import Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Tracer
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

CONSOLE = "console"
"""The tracing endpoint that prints every finished span on standard output (to try it)."""


def span_exporter(endpoint: str) -> SpanExporter:
    """``console``, or an OTLP/HTTP traces endpoint (``http://collector:4318/v1/traces``)."""
    if endpoint == CONSOLE:
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint)


def tracer_provider(endpoint: str | None, *, service: str) -> TracerProvider | None:
    """The provider that sends this process's spans to ``endpoint``; None when tracing is off.

    Spans leave in batches from a thread of their own: a slow collector never slows a request.
    """
    if not endpoint:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter(endpoint)))
    return provider


def tracer(provider: TracerProvider | None) -> Tracer | None:
    return provider.get_tracer("jiuzhu") if provider else None


def temporal_interceptors(tracer: Tracer | None) -> Sequence[Interceptor]:
    """The client interceptors: with a tracer, workflow calls carry the trace (and a worker
    built on that client traces workflows and activities too)."""
    return [TracingInterceptor(tracer)] if tracer else []


def temporal_runtime(metrics_address: str | None) -> Runtime | None:
    """A Temporal runtime serving the SDK's own metrics (``temporal_…``: task latencies,
    slots, polls, failures) for Prometheus at ``http://<address>/metrics``; None (the default
    runtime, no metrics) when no address is set. A port already taken stops the process at
    start."""
    if not metrics_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=metrics_address))
    )
