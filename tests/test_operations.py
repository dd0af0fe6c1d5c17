"""What the operator relies on: the probes (/healthz, /readyz), the metrics Prometheus scrapes
from the API and from the worker, and one trace from a caseworker's request through the case's
workflow Update to its activity. Real API over HTTP, real worker, the Temporal dev server."""

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select
from temporalio.client import Client

import telemetry
from api.main import create_app
from store.db import CONNECT_TIMEOUT_SECONDS, session_scope
from store.tables import CaseRecord
from tests.helpers.actors import ASSISTANT, approver_of, assistant_of
from tests.helpers.api import application, emergency, eventually, key, survey, until
from tests.helpers.people import account_no
from tests.helpers.servers import free_port, serve
from tests.helpers.stack import CONVERTER, Stack, fresh_database, running_stack
from worker import create_worker
from workflows.client import connect


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one metric in a Prometheus exposition, by their sorted labels."""
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


@pytest.fixture
def fresh_settings(api_settings, database_url):
    """The stack's settings on a database of this test's own (its figures are this test's
    cases only), numbering cases where no other test's are."""
    return api_settings.model_copy(update={"database_url": fresh_database(database_url)})


# ---- probes ----------------------------------------------------------------------------------


async def test_alive_and_ready_when_everything_answers(stack):
    async with httpx.AsyncClient(base_url=stack.url) as http:  # no token: probes need none
        alive = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "temporal": "ok"}}


@pytest.mark.parametrize(
    "nowhere",
    [
        "sqlite:////no/such/folder/jiuzhu.db",
        "postgresql+psycopg://jiuzhu@127.0.0.1:1/jiuzhu",  # nothing listens on port 1
    ],
)
async def test_not_ready_names_the_database_when_it_does_not_answer(dev_env, api_settings, nowhere):
    settings = api_settings.model_copy(update={"database_url": nowhere})
    with serve(create_app(settings, temporal=dev_env.client)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            began = time.monotonic()
            ready = await http.get("/readyz")
            took = time.monotonic() - began
            alive = await http.get("/healthz")
    assert ready.status_code == 503, ready.text
    answer = ready.json()
    assert answer["down"] == ["database"] and answer["checks"]["temporal"] == "ok"
    assert "database" in answer["detail"]
    assert "127.0.0.1" not in ready.text and "/no/such" not in ready.text  # no address leaks
    assert took < settings.readiness_timeout_seconds + 3
    assert alive.status_code == 200  # alive all the same: restarting it would not help


@pytest.fixture
def silent_database() -> Iterator[tuple[str, list[socket.socket]]]:
    """A PostgreSQL address that accepts connections and never says a word, and the
    connections it holds."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(100)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(silent.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"postgresql+psycopg://jiuzhu@127.0.0.1:{silent.getsockname()[1]}/jiuzhu", held
    finally:
        silent.close()
        for connection in held:  # the waiting drivers see the end and give up
            connection.close()


async def test_a_database_that_never_answers_holds_four_probe_threads_and_no_more(
    dev_env, api_settings, silent_database
):
    nowhere, held = silent_database
    settings = api_settings.model_copy(
        update={"database_url": nowhere, "readiness_timeout_seconds": 0.5}
    )
    with serve(create_app(settings, temporal=dev_env.client)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for _ in range(3):
                began = time.monotonic()
                answers = await asyncio.gather(*(http.get("/readyz") for _ in range(10)))
                assert time.monotonic() - began < 5  # bounded, however loaded the machine
                assert {a.status_code for a in answers} == {503}
                assert {tuple(a.json()["down"]) for a in answers} == {("database",)}
            assert (await http.get("/healthz")).status_code == 200
    assert len(held) <= 4


async def test_a_caseworker_gets_try_again_from_a_database_that_never_answers(
    dev_env, api_settings, silent_database
):
    nowhere, _ = silent_database
    settings = api_settings.model_copy(update={"database_url": nowhere})
    with serve(create_app(settings, temporal=dev_env.client)) as url:
        async with Stack(url, settings).client(ASSISTANT) as assistant:
            began = time.monotonic()
            answers = await asyncio.gather(*(assistant.get("/applications") for _ in range(3)))
            took = time.monotonic() - began
    assert [a.status_code for a in answers] == [503] * 3, answers[0].text
    assert "try again" in answers[0].json()["detail"]
    assert took < CONNECT_TIMEOUT_SECONDS + 5  # the connection's own bound, not the client's


async def test_not_ready_names_temporal_when_it_does_not_answer(api_settings):
    # A client that has never reached its server: as after Temporal went away.
    nowhere = await Client.connect(f"127.0.0.1:{free_port()}", data_converter=CONVERTER, lazy=True)
    with serve(create_app(api_settings, temporal=nowhere)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            began = time.monotonic()
            ready = await http.get("/readyz")
            took = time.monotonic() - began
    assert ready.status_code == 503, ready.text
    assert ready.json()["down"] == ["temporal"]
    assert ready.json()["checks"] == {"database": "ok", "temporal": "down"}
    assert "temporal" in ready.json()["detail"]
    assert took < api_settings.readiness_timeout_seconds + 3


@contextlib.asynccontextmanager
async def forwarding(port: int, to: str) -> AsyncIterator[None]:
    """Temporal appearing at ``127.0.0.1:port``: every connection there is carried to ``to``."""
    host, to_port = to.rsplit(":", 1)

    async def carry(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        far_reader, far_writer = await asyncio.open_connection(host, int(to_port))
        await asyncio.gather(carry(reader, far_writer), carry(far_reader, writer))

    server = await asyncio.start_server(connection, "127.0.0.1", port)
    async with server:
        yield


async def test_the_api_starts_without_temporal_and_takes_cases_once_temporal_answers(
    dev_env, fresh_settings
):
    port = free_port()  # where Temporal is expected, and nothing listens yet
    settings = fresh_settings.model_copy(update={"temporal_address": f"127.0.0.1:{port}"})
    worker, external = create_worker(dev_env.client, settings)  # the worker reaches Temporal
    async with worker:
        with serve(create_app(settings)) as url:
            taken = await intake_while_temporal_is_away(url, settings, port, dev_env)
    await external.close()
    with session_scope(settings.database_url) as session:
        assert [r.case_no for r in session.exec(select(CaseRecord))] == [taken["case_no"]]


async def intake_while_temporal_is_away(url: str, settings, port: int, dev_env) -> dict:
    """Refused 503 while nothing answers at ``port``; taken, with the same key, once it does."""
    async with (
        Stack(url, settings).client(ASSISTANT) as assistant,
        httpx.AsyncClient(base_url=url, timeout=10) as anyone,
    ):
        assert (await anyone.get("/healthz")).status_code == 200
        ready = await anyone.get("/readyz")
        assert ready.status_code == 503 and ready.json()["down"] == ["temporal"]
        body, same = application(), key()
        refused = await assistant.post("/applications", json=body, headers=same)
        assert refused.status_code == 503, refused.text
        assert "try again" in refused.json()["detail"]
        with session_scope(settings.database_url) as session:
            assert session.exec(select(CaseRecord)).all() == []  # nothing half-written

        async with forwarding(port, dev_env.client.service_client.config.target_host):
            await eventually(
                lambda: anyone.get("/readyz"), lambda r: r.status_code == 200, timeout=40
            )
            # The same request, the same key: taken now, once.
            taken = await assistant.post("/applications", json=body, headers=same)
            assert taken.status_code == 201, taken.text
    return taken.json()


# ---- metrics ---------------------------------------------------------------------------------


async def test_metrics_count_requests_by_route_template_and_the_cases_as_created(
    dev_env, fresh_settings, simulator_url
):
    home, away = "370305001", "370305002"
    created: Counter[tuple[str, str, str]] = Counter()
    async with running_stack(dev_env.client, fresh_settings) as stack:
        async with stack.client(ASSISTANT) as assistant:
            numbers = []
            for _ in range(2):
                answer = await assistant.post("/applications", json=application(), headers=key())
                assert answer.status_code == 201, answer.text
                numbers.append(answer.json()["case_no"])
                created["application", answer.json()["stage"], home] += 1
            for case_no in numbers:
                assert (await assistant.get(f"/applications/{case_no}")).status_code == 200
            missing = await assistant.get("/applications/370305-1999-000001")
            assert missing.status_code == 404
            async with httpx.AsyncClient(base_url=stack.url) as anyone:
                unsigned = await anyone.get("/applications")
                assert unsigned.status_code == 401
                for unknown in ("PROPFIND", "PURGE"):  # counted together, not a series each
                    assert (await anyone.request(unknown, "/applications")).status_code == 405
                # A method no parser knows: uvicorn's (httptools) refuses it before the app
                # (400); served by another, the app refuses it (405). Never a label of its own.
                made_up = (await anyone.request("FOO", "/applications")).status_code
                assert made_up in (400, 405)
        async with (
            stack.client(assistant_of(away)) as assistant,
            stack.client(approver_of(away)) as approver,
        ):
            answer = await assistant.post(
                "/emergencies", json=emergency(away, f"{away}001", amount="1500.00"), headers=key()
            )
            assert answer.status_code == 201, answer.text
            paid_case = answer.json()["case_no"]
            approved = await approver.post(
                f"/emergencies/{paid_case}/approval",
                json={"amount": "1500.00", "note": "属实"},
                headers=key(),
            )
            assert approved.status_code == 200, approved.text

            async def case() -> dict:
                return (await approver.get(f"/emergencies/{paid_case}")).json()

            paid = await eventually(case, lambda c: c["paid_at"] is not None)
            created["emergency", paid["stage"], away] += 1

            # A closed account: the payment system refuses the transfer for good.
            closed = emergency(away, f"{away}001", account=account_no("9876", prefix="00012345"))
            answer = await assistant.post("/emergencies", json=closed, headers=key())
            refused_case = answer.json()["case_no"]
            approved = await approver.post(
                f"/emergencies/{refused_case}/approval", json={"amount": "1500.00"}, headers=key()
            )
            assert approved.status_code == 200, approved.text
            refused = await until(
                approver, refused_case, lambda c: c["stage"] == "awaiting_account"
            )
            created["emergency", refused["stage"], away] += 1
            # The refusal is counted from the staff notice, written just after the stage.
            await eventually(
                lambda: approver.get("/notifications"),
                lambda answer: any(
                    n["case_no"] == refused_case and n["kind"] == "payment_refused"
                    for n in answer.json()
                ),
            )
        # The worker's watch marks a case overdue when its deadline passes (days away on
        # the dev server's real clock): mark one here as it would.
        with session_scope(fresh_settings.database_url, writes=True) as session:
            record = session.exec(select(CaseRecord).where(CaseRecord.case_no == numbers[0])).one()
            record.overdue = True
            session.add(record)

        async with httpx.AsyncClient(base_url=stack.url) as http:  # Prometheus sends no token
            scraped = await http.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text

    requests = samples(text, "jiuzhu_http_requests_total")

    def count(method: str, route: str, status: int) -> float:
        labels = (("method", method), ("route", route), ("status", str(status)))
        return requests.get(labels, 0)

    assert count("GET", "/applications/{case_no}", 200) == 2, sorted(requests)
    assert count("GET", "/applications/{case_no}", 404) == 1
    assert count("POST", "/applications", 201) == 2
    assert count("GET", "/applications", 401) == 1
    assert count("other", "/applications", 405) == 2 + (made_up == 405)
    assert not [labels for labels in requests if ("method", "FOO") in labels]
    assert count("POST", "/emergencies/{case_no}/approval", 200) == 2
    latency = samples(text, "jiuzhu_http_request_duration_seconds_count")
    assert latency[(("method", "GET"), ("route", "/applications/{case_no}"))] == 3
    # No case number, name or ID number is ever a label.
    for case_no in [*numbers, paid_case, refused_case, "370305-1999-000001"]:
        assert case_no not in text

    assert samples(text, "jiuzhu_figures_up") == {(): 1}
    cases = samples(text, "jiuzhu_cases")
    assert {
        (labels[0][1], labels[1][1], labels[2][1]): value for labels, value in cases.items()
    } == dict(created)
    assert samples(text, "jiuzhu_cases_overdue") == {
        (("kind", "application"), ("township", home)): 1
    }
    payments = samples(text, "jiuzhu_payments_total")
    assert payments == {
        (("kind", "emergency"), ("outcome", "made"), ("township", away)): 1,
        (("kind", "emergency"), ("outcome", "refused"), ("township", away)): 1,
    }
    # The operator's dashboard asks only for what is served.
    dashboard = json.loads(
        (Path(__file__).parent.parent / "deploy/grafana/jiuzhu.json").read_text()
    )
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\bjiuzhu_\w+", target["expr"])
    }
    served = {s.name for family in text_string_to_metric_families(text) for s in family.samples}
    assert asked and asked <= served, asked - served
    balances = samples(text, "jiuzhu_reserve_balance_yuan")
    assert balances[(("township", away),)] == 50000 - 1500
    assert balances[(("township", home),)] == 50000


async def test_metrics_say_the_figures_are_missing_when_the_database_is_down(dev_env, api_settings):
    settings = api_settings.model_copy(update={"database_url": "sqlite:////no/such/folder/x.db"})
    with serve(create_app(settings, temporal=dev_env.client)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            scraped = await http.get("/metrics")
    assert scraped.status_code == 200  # the request counts are still worth scraping
    assert samples(scraped.text, "jiuzhu_figures_up") == {(): 0}
    assert samples(scraped.text, "jiuzhu_cases") == {}


async def test_the_worker_serves_the_temporal_sdk_metrics_when_given_an_address(
    dev_env, api_settings
):
    address = f"127.0.0.1:{free_port()}"
    client = await connect(
        dev_env.client.service_client.config.target_host,
        "default",
        ring=api_settings.key_ring(),
        runtime=telemetry.temporal_runtime(address),
    )
    worker, external = create_worker(client, api_settings)
    async with worker, httpx.AsyncClient() as http:

        async def scrape() -> str:
            return (await http.get(f"http://{address}/metrics")).text

        text = await eventually(scrape, lambda t: "temporal_worker_task_slots_available" in t)
    await external.close()
    assert any(
        family.name.startswith("temporal_") for family in text_string_to_metric_families(text)
    )
    assert telemetry.temporal_runtime(None) is None  # off unless an address is set


# ---- tracing ---------------------------------------------------------------------------------


async def test_one_trace_holds_the_intake_request_the_workflow_the_survey_update_and_activities(
    dev_env, fresh_settings
):
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = provider.get_tracer("test")
    settings = fresh_settings.model_copy(update={"task_queue": f"test-{uuid.uuid4()}"})
    # The worker's client carries the interceptor, as worker.py makes it with tracing on.
    client = await connect(
        dev_env.client.service_client.config.target_host,
        "default",
        ring=settings.key_ring(),
        interceptors=telemetry.temporal_interceptors(tracer),
    )
    worker, external = create_worker(client, settings)
    async with worker:
        with serve(create_app(settings, tracer_provider=provider)) as url:
            headers = Stack(url, settings).headers(ASSISTANT)
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
                answer = await http.post("/applications", json=application(), headers=key())
                assert answer.status_code == 201, answer.text
                case_no = answer.json()["case_no"]
                surveyed = await http.post(
                    f"/applications/{case_no}/survey", json=survey(), headers=key()
                )
                assert surveyed.status_code == 200, surveyed.text

            def case_trace() -> list:
                """The trace the case's intake request began."""
                intake = [s for s in spans.get_finished_spans() if s.name == "POST /applications"]
                if not intake:
                    return []
                trace_id = intake[0].context.trace_id
                return [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]

            async def names() -> Counter[str]:
                return Counter(s.name for s in case_trace())

            found = await eventually(
                names,
                # the intake's record, and the survey's record after it
                lambda n: (
                    n["HandleUpdate:record_survey"] == 1 and n["RunActivity:record_transition"] >= 2
                ),
            )
    await external.close()
    provider.shutdown()
    # One trace: the intake request, the workflow it started, the survey's Update, and the
    # activities that wrote the case's records.
    for name in (
        "POST /applications",
        "StartWorkflow:ApplicationWorkflow",
        "RunWorkflow:ApplicationWorkflow",
        "HandleUpdate:record_survey",
        "StartActivity:record_transition",
        "RunActivity:record_transition",
    ):
        assert found[name] >= 1, (name, found)
    trace = case_trace()
    [root] = [s for s in trace if s.parent is None]
    assert root.name == "POST /applications"
    assert root.attributes["http.route"] == "/applications"
    assert root.attributes["http.response.status_code"] == 201
    # Temporal's interceptor keeps a workflow's spans in the trace that started it; the survey
    # request's own trace holds its Update call, which the Update's handling links to.
    by_name = {s.name: s for s in spans.get_finished_spans()}
    request = by_name["POST /applications/{case_no}/survey"]
    call = by_name["StartWorkflowUpdate:record_survey"]
    assert call.parent.span_id == request.context.span_id
    assert call.context.trace_id == request.context.trace_id != root.context.trace_id
    handled = by_name["HandleUpdate:record_survey"]
    assert [link.context.span_id for link in handled.links] == [call.context.span_id]
