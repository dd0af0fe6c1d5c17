"""How long each page of the web console takes the server, and how much it weighs, with N
cases in the records.

Seeds a fresh database as ``bench/audit.py`` does (N case records over 2025 and the end of
2024, about 70 % applications, their reserve ledger; bulk inserts, no workflows), each record
with the view its pages read; starts the API in this process beside a Temporal dev server (no
worker: the pages read the records), signs in through the console's own form as each role, and
requests every page R times, timing the server's answer (in-process: no network), then
reports p50/p99 and the weight of the HTML and of the stylesheet it loads (the only asset).

    .venv/bin/python -m bench --console 100000 [--repeat 30] [--database-url URL]

SQLite in a temporary directory by default. Target (issue 19): p99 ≤ 300 ms, the list pages
≤ 200 KB.
"""

import asyncio
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pydantic import TypeAdapter
from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment

from bench import audit
from domain.cases import CaseView
from domain.emergency import EmergencyView
from settings import Settings
from store.db import session_scope
from store.tables import CaseRecord, EmergencyRecord

VIEWS = {"application": TypeAdapter(CaseView), "emergency": TypeAdapter(EmergencyView)}
FIELDS = {
    "application": set(CaseView.__dataclass_fields__),
    "emergency": set(EmergencyView.__dataclass_fields__),
}
TEMPORAL = Path(sys.executable).parent / "temporal"


def with_view(row: dict, kind: str) -> dict:
    """The record's view (what the lists and the case page read), made of its columns."""
    fields = {k: v for k, v in row.items() if k in FIELDS[kind] and v is not None}
    fields.setdefault("stage", "survey")
    if kind == "emergency":
        fields.setdefault("bank_account", "****2222")  # masked, as a view holds it
    view = VIEWS[kind].validate_python(fields)
    return row | {"view": VIEWS[kind].dump_json(view).decode()}


def percentile(timings: list[float], q: float) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def signed_in(http: httpx.AsyncClient, role: str, jurisdiction: str) -> None:
    page = await http.get("/console/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    answer = await http.post(
        "/console/sign-in",
        data={"csrf": csrf, "role": role, "jurisdiction": jurisdiction, "name": role},
    )
    assert answer.status_code == 303, answer.text


async def run(url: str, cases: int, repeat: int) -> list[tuple[str, str, float, float, int]]:
    from api.main import create_app  # after the environment is set

    with session_scope(url) as session:
        application = session.query(CaseRecord).filter(CaseRecord.stage == "review").first()
        emergency = session.query(EmergencyRecord).filter(EmergencyRecord.stage == "paid").first()
    with session_scope(url, writes=True) as session:  # no sealed intake to open on these two
        for table, row in ((CaseRecord, application), (EmergencyRecord, emergency)):
            session.execute(update(table).where(table.case_no == row.case_no).values(start=None))

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL), dev_server_extra_args=["--log-level", "error"]
    )
    try:
        target = env.client.service_client.config.target_host
        settings = Settings(database_url=url, temporal_address=target)
        app = create_app(settings)
        pages = [
            ("supervisor", "370305", "home (supervisor: stuck summary)", "/console/"),
            ("supervisor", "370305", "stuck cases, whole district", "/console/stuck"),
            ("auditor", "370305", "compliance 2025, whole district",
             "/console/compliance?from=2025-01-01&to=2025-12-31"),
            ("auditor", "370305", "compliance CSV 2025",
             "/console/compliance.csv?from=2025-01-01&to=2025-12-31"),
            ("district_officer", "370305", "applications, page 1", "/console/applications"),
            ("district_officer", "370305", "applications, overdue in review",
             "/console/applications?stage=review&overdue=true"),
            ("district_officer", "370305", "applications, page 100",
             "/console/applications?page=100"),
            ("district_officer", "370305", "emergencies, page 1", "/console/emergencies"),
            ("district_officer", "370305", "a case (application)",
             f"/console/cases/{application.case_no}"),
            ("district_officer", "370305", "a case (emergency)",
             f"/console/cases/{emergency.case_no}"),
            ("district_officer", "370305", "reserves", "/console/reserves"),
            ("district_officer", "370305", "a reserve and its ledger",
             f"/console/reserves/{emergency.township}"),
            ("township_assistant", "370305001", "home (assistant: waiting cases)", "/console/"),
            ("township_assistant", "370305001", "intake form", "/console/applications/new"),
        ]  # fmt: skip
        results = []
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            clients: dict[str, httpx.AsyncClient] = {}
            try:
                css = None
                for role, jurisdiction, name, path in pages:
                    if role not in clients:
                        http = httpx.AsyncClient(transport=transport, base_url="http://console")
                        await signed_in(http, role, jurisdiction)
                        clients[role] = http
                    http = clients[role]
                    if css is None:
                        css = len((await http.get("/console/static/console.css")).content)
                    timings = []
                    for n in range(repeat + 1):
                        began = time.perf_counter()
                        answer = await http.get(path)
                        took = time.perf_counter() - began
                        assert answer.status_code == 200, (path, answer.status_code)
                        if n:  # the first call warms the caches
                            timings.append(took)
                    html = len(answer.content)
                    weight = html + (0 if ".csv" in path else css)
                    results.append((name, path, statistics.median(timings),
                                    percentile(timings, 0.99), html, weight))  # fmt: skip
                    print(f"  {name}: p50 {results[-1][2] * 1000:.0f} ms", flush=True)
            finally:
                for http in clients.values():
                    await http.aclose()
    finally:
        await env.shutdown()
    return results


def main(cases: int, repeat: int, database_url: str | None) -> int:
    url = database_url or f"sqlite:///{tempfile.mkdtemp(prefix='jiuzhu-console-')}/jiuzhu.db"
    began = time.perf_counter()
    audit.seed(url, cases, random.Random(19), shape=with_view)
    print(f"seeded in {time.perf_counter() - began:.0f} s; timing {repeat} calls a page ...")
    results = asyncio.run(run(url, cases, repeat))
    database = url.split(":")[0].split("+")[0]
    print(f"\nconsole pages, {database}, {cases:,} cases, {repeat} calls a page (server time)")
    print(f"{'page':<40} {'p50 ms':>8} {'p99 ms':>8} {'HTML KB':>8} {'+CSS KB':>8}")
    for name, _path, p50, p99, html, weight in results:
        print(
            f"{name:<40} {p50 * 1000:>8.1f} {p99 * 1000:>8.1f} "
            f"{html / 1024:>8.1f} {weight / 1024:>8.1f}"
        )
    print(
        f"reproduce: .venv/bin/python -m bench --console {cases} --repeat {repeat}"
        + (f" --database-url {database_url}" if database_url else "")
    )
    return 0
