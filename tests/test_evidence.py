"""Evidence that cannot be quietly edited: every audit entry chained to the one before it, each
case's head naming its newest entry, sealed batches, /audit/verify naming every entry that does
not match, and each case's timeline rebuilt from its workflow history beside its records. On
SQLite and PostgreSQL."""

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event, text
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

import store.evidence
from api.main import create_app
from domain.cases import SYSTEM, Actor, AuditEntry, Role, Stage, initial_view
from domain.contracts import Transition
from domain.evidence import CONTENT, GENESIS, compare, entry_hash
from store.db import Database, get_engine, session_scope
from store.evidence import verify
from store.migrate import alembic_config, upgrade
from store.records import apply_transition, write_new_case
from store.tables import AuditEntryRecord, AuditSeal, CaseHead
from store.types import UTCDateTime
from tests.helpers.actors import ASSISTANT
from tests.helpers.api import application, emergency, survey, wait_for
from tests.helpers.cases import case_start
from tests.helpers.servers import serve
from tests.helpers.stack import CONVERTER, RING, TEMPORAL, Stack
from watches.audit_trail import seal_audit_trail
from worker import create_worker
from workflows.search import ALL_KEYS

AUDITOR = Actor(user_id="u-auditor", name="审计员", role=Role.auditor, jurisdiction="370305")


@pytest.fixture
def url(each_database_url) -> str:
    return each_database_url


def write_case(url: str, steps: int = 4) -> str:
    """A case as the API and its workflow write one: the intake, then a transition per step,
    the last one with two entries. Its number."""
    start = case_start(
        case_no=f"E-{uuid.uuid4().hex[:8]}", database_url=url, accepted_at=datetime.now(UTC)
    )
    view = initial_view(start)

    def entry(seq: int) -> AuditEntry:
        action = "accepted" if seq == 0 else f"step_{seq}"
        return AuditEntry(
            start.case_no, seq, datetime.now(UTC), ASSISTANT, action, Stage.survey, Stage.survey,
            note=f"第{seq}步",
        )  # fmt: skip

    with session_scope(url, writes=True) as session:
        write_new_case(session, view=view, start=start, entry=entry(0), ring=RING)
    for seq in range(1, steps - 1):
        with session_scope(url, writes=True) as session:
            apply_transition(session, Transition(replace(view, version=seq), [entry(seq)]))
    with session_scope(url, writes=True) as session:
        both = [entry(steps - 1), entry(steps)]
        apply_transition(session, Transition(replace(view, version=steps), both))
    return start.case_no


def trail(url: str, case_no: str) -> list[AuditEntryRecord]:
    with session_scope(url) as session:
        query = select(AuditEntryRecord).where(AuditEntryRecord.case_no == case_no)
        return list(session.exec(query.order_by(AuditEntryRecord.seq)))


def sql(url: str, statement: str, **params) -> None:
    with session_scope(url, writes=True) as session:
        session.connection().execute(text(statement), params)


def put_back(url: str, rows: list[AuditEntryRecord]) -> None:
    """Rows deleted by a test, as they were (same ids)."""
    with session_scope(url, writes=True) as session:
        session.add_all(AuditEntryRecord(**row.model_dump()) for row in rows)


def assert_chained(rows: list[AuditEntryRecord]) -> None:
    prev = GENESIS
    for row in rows:
        content = {name: getattr(row, name) for name in CONTENT}
        assert row.prev_hash == prev and row.hash == entry_hash(content, prev), row
        prev = row.hash


def seal_now(url: str) -> int:
    return asyncio.run(seal_audit_trail(Database(url), margin=timedelta(0)))


async def verified(stack: Stack) -> dict:
    async with stack.client(AUDITOR) as http:
        answer = await http.get("/audit/verify")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["first_mismatch"] == (found["mismatches"] or [None])[0]
    return found


def named(answer: dict) -> list[tuple]:
    """What each problem named: case, seq, id (None for a seal's), problem."""
    return [(m["case_no"], m["seq"], m["id"], m["problem"]) for m in answer["mismatches"]]


SEAL_MISMATCH = (None, None, None, "seal mismatch")


# --- the chain ---------------------------------------------------------------------------------


def test_each_entry_carries_its_hash_and_the_hash_of_the_one_before(url):
    cases = [write_case(url) for _ in range(3)]
    for case_no in cases:
        rows = trail(url, case_no)
        assert [r.seq for r in rows] == [0, 1, 2, 3, 4]
        assert_chained(rows)
    with session_scope(url) as session:
        verdict = verify(session)
    assert (verdict.ok, verdict.entries, verdict.first_mismatch) == (True, 15, None)


async def test_a_real_case_is_chained_and_its_timeline_matches_until_an_entry_is_forged(
    stack_on_each_database,
):
    stack = stack_on_each_database
    url = stack.settings.database_url
    async with stack.client(ASSISTANT) as http, stack.client(AUDITOR) as auditor:
        case_no = (await http.post("/applications", json=application())).json()["case_no"]
        assert (
            await http.post(f"/applications/{case_no}/survey", json=survey())
        ).status_code == 200
        await wait_for(http, case_no, lambda c: c["stage"] == "review")
        rows = trail(url, case_no)
        assert rows[0].action == "accepted" and len(rows) >= 4
        assert_chained(rows)
        assert await verified(stack) == {
            "ok": True, "entries": len(rows), "seals": 0, "first_mismatch": None,
            "mismatches": [], "mismatch_count": 0, "last_seal": None,
        }  # fmt: skip

        timeline = (await auditor.get(f"/audit/cases/{case_no}/timeline")).json()
        assert (timeline["matches"], timeline["history"], timeline["runs"]) == (True, "complete", 1)
        steps = timeline["steps"]
        assert [s["seq"] for s in steps] == [r.seq for r in rows]
        assert [s["action"] for s in steps] == [r.action for r in rows]
        assert steps[0] | {"at": None} == {
            "seq": 0, "at": None, "action": "accepted", "from_stage": None, "to_stage": "survey",
            "user_id": ASSISTANT.user_id, "source": "api", "in_history": False,
            "in_records": True, "differences": [],
        }  # fmt: skip
        assert all(
            (s["source"], s["in_history"], s["in_records"], s["differences"])
            == ("workflow", True, True, [])
            for s in steps[1:]
        )

        sql(
            url,
            "UPDATE audit_entry SET action = 'forged' WHERE case_no = :c AND seq = 1",
            c=case_no,
        )
        timeline = (await auditor.get(f"/audit/cases/{case_no}/timeline")).json()
        assert timeline["matches"] is False
        assert [(s["seq"], s["differences"]) for s in timeline["steps"] if s["differences"]] == [
            (1, ["action"])
        ]
        mismatch = (await verified(stack))["first_mismatch"]
        assert mismatch | {"detail": None} == {
            "case_no": case_no, "seq": 1, "id": rows[1].id, "problem": "edited",
            "detail": None, "seal": None,
        }  # fmt: skip


async def test_an_edited_or_deleted_entry_is_named(stack_on_each_database):
    stack = stack_on_each_database
    url = stack.settings.database_url
    edited, cut, whole = (write_case(url) for _ in range(3))
    assert (await verified(stack))["ok"]

    async def first_mismatch() -> tuple:
        found = (await verified(stack))["first_mismatch"]
        return found["case_no"], found["seq"], found["problem"]

    # A note changed in place.
    sql(url, "UPDATE audit_entry SET note = '改过' WHERE case_no = :c AND seq = 2", c=edited)
    assert await first_mismatch() == (edited, 2, "edited")
    sql(url, "UPDATE audit_entry SET note = '第2步' WHERE case_no = :c AND seq = 2", c=edited)
    assert (await verified(stack))["ok"]

    # A note changed with its hash made again: the next entry no longer follows it.
    rows = trail(url, edited)
    content = {name: getattr(rows[2], name) for name in CONTENT} | {"note": "改过"}
    sql(
        url, "UPDATE audit_entry SET note = '改过', hash = :h WHERE id = :id",
        h=entry_hash(content, rows[2].prev_hash), id=rows[2].id,
    )  # fmt: skip
    assert await first_mismatch() == (edited, 3, "chain broken")
    sql(
        url,
        "UPDATE audit_entry SET note = '第2步', hash = :h WHERE id = :id",
        h=rows[2].hash,
        id=rows[2].id,
    )

    # An entry taken out of the middle of a trail.
    middle = trail(url, cut)[2]
    sql(url, "DELETE FROM audit_entry WHERE id = :id", id=middle.id)
    assert await first_mismatch() == (cut, 3, "chain broken")
    put_back(url, [middle])
    assert (await verified(stack))["ok"]

    # Sealed: a whole trail, or the last entry of one, cannot go unnoticed.
    assert await seal_audit_trail(Database(url), margin=timedelta(0)) == 1
    answer = await verified(stack)
    assert answer["ok"] and answer["seals"] == 1
    assert answer["last_seal"]["up_to_id"] == max(r.id for r in trail(url, whole))
    gone = trail(url, whole)
    sql(url, "DELETE FROM audit_entry WHERE case_no = :c", c=whole)
    answer = await verified(stack)
    assert answer["ok"] is False and answer["entries"] == 10
    # The case's head names its newest entry; the seal, the ids it no longer matches.
    assert named(answer) == [(whole, 4, gone[-1].id, "newest entry missing"), SEAL_MISMATCH]
    assert answer["mismatches"][1]["seal"] == 1
    put_back(url, gone)
    assert (await verified(stack))["ok"]
    newest = trail(url, edited)[-1]
    sql(url, "DELETE FROM audit_entry WHERE case_no = :c AND seq = 4", c=edited)
    assert named(await verified(stack)) == [
        (edited, 4, newest.id, "newest entry missing"),
        SEAL_MISMATCH,
    ]


# --- a case's head: its newest entry -------------------------------------------------------------


async def test_a_newest_entry_deleted_right_after_it_was_written_is_named_for_good(
    stack_on_each_database,
):
    """Found by a tester: within the seal margin no later entry follows it and no seal covers
    it; /audit/verify said ok for ever, and the worker then sealed over the gap."""
    stack = stack_on_each_database
    url = stack.settings.database_url
    case_no = write_case(url)
    newest = trail(url, case_no)[-1]
    assert (await verified(stack))["ok"]
    sql(url, "DELETE FROM audit_entry WHERE id = :id", id=newest.id)
    answer = await verified(stack)
    assert answer["ok"] is False and answer["mismatch_count"] == 1
    assert named(answer) == [(case_no, 4, newest.id, "newest entry missing")]
    assert "seq 4" in answer["first_mismatch"]["detail"]

    # The worker seals what is left; the deletion stays named, and no later entry takes the
    # deleted one's id.
    assert await seal_audit_trail(Database(url), margin=timedelta(0)) == 1
    later = write_case(url)
    assert min(r.id for r in trail(url, later)) > newest.id
    answer = await verified(stack)
    assert answer["seals"] == 1 and answer["mismatch_count"] == 1
    assert named(answer) == [(case_no, 4, newest.id, "newest entry missing")]


async def test_a_sealed_newest_entry_deleted_is_named_by_its_case_and_seq(stack_on_each_database):
    stack = stack_on_each_database
    url = stack.settings.database_url
    case_no = write_case(url)
    assert await seal_audit_trail(Database(url), margin=timedelta(0)) == 1
    newest = trail(url, case_no)[-1]
    sql(url, "DELETE FROM audit_entry WHERE id = :id", id=newest.id)
    answer = await verified(stack)
    assert answer["mismatch_count"] == 2
    assert named(answer) == [(case_no, 4, newest.id, "newest entry missing"), SEAL_MISMATCH]


async def test_every_problem_is_named_not_only_the_first(stack_on_each_database):
    stack = stack_on_each_database
    url = stack.settings.database_url
    edited, cut, fine = write_case(url), write_case(url), write_case(url)
    sql(url, "UPDATE audit_entry SET note = '改过' WHERE case_no = :c AND seq = 1", c=edited)
    newest = trail(url, cut)[-1]
    sql(url, "DELETE FROM audit_entry WHERE id = :id", id=newest.id)
    answer = await verified(stack)
    assert answer["ok"] is False and answer["mismatch_count"] == 2
    assert named(answer) == [
        (edited, 1, trail(url, edited)[1].id, "edited"),
        (cut, 4, newest.id, "newest entry missing"),
    ]
    assert fine not in {m["case_no"] for m in answer["mismatches"]}


def test_the_newest_entry_rewritten_with_its_hash_made_again_is_named_by_its_head(url):
    case_no = write_case(url)
    newest = trail(url, case_no)[-1]
    content = {name: getattr(newest, name) for name in CONTENT} | {"note": "改过"}
    sql(
        url, "UPDATE audit_entry SET note = '改过', hash = :h WHERE id = :id",
        h=entry_hash(content, newest.prev_hash), id=newest.id,
    )  # fmt: skip
    with session_scope(url) as session:
        verdict = verify(session)
    assert [(m.case_no, m.seq, m.problem) for m in verdict.mismatches] == [
        (case_no, 4, "head mismatch")
    ]
    # An entry added past the head by hand, or a trail with no head, is named too.
    sql(url, "UPDATE audit_entry SET note = '第4步', hash = :h WHERE id = :id",
        h=newest.hash, id=newest.id)  # fmt: skip
    sql(url, "UPDATE case_head SET seq = 3, hash = :h WHERE case_no = :c",
        h=trail(url, case_no)[3].hash, c=case_no)  # fmt: skip
    other = write_case(url)
    sql(url, "DELETE FROM case_head WHERE case_no = :c", c=other)
    with session_scope(url) as session:
        verdict = verify(session)
    assert {(m.case_no, m.seq, m.problem) for m in verdict.mismatches} == {
        (case_no, 4, "head mismatch"),
        (other, 4, "no head"),
    }


def test_at_most_a_hundred_problems_are_named_the_earliest_first_and_all_are_counted(url):
    fill(url, 130, prefix="N")
    sql(url, "UPDATE audit_entry SET note = '改过' WHERE seq = 0")
    with session_scope(url) as session:
        verdict = verify(session)
        first_ids = session.exec(
            select(AuditEntryRecord.id).where(AuditEntryRecord.seq == 0).order_by("id")
        ).all()
    assert (verdict.ok, verdict.mismatch_count, len(verdict.mismatches)) == (False, 130, 100)
    assert [m.id for m in verdict.mismatches] == first_ids[:100]
    assert {m.problem for m in verdict.mismatches} == {"edited"}


def test_an_entry_id_is_never_given_again(url):
    """Without AUTOINCREMENT, SQLite gave the next entry max(id) + 1: a deleted newest entry's
    id came back on another case's entry."""
    case_no = write_case(url, steps=2)
    newest = trail(url, case_no)[-1]
    sql(url, "DELETE FROM audit_entry WHERE id = :id", id=newest.id)
    later = write_case(url, steps=2)
    assert min(r.id for r in trail(url, later)) > newest.id


# --- sealing -----------------------------------------------------------------------------------


async def test_sealing_waits_for_the_margin_and_several_workers_seal_each_batch_once(
    url, monkeypatch
):
    db = Database(url)
    first = write_case(url)
    assert await seal_audit_trail(db) == 0  # written just now, within the margin
    assert await seal_audit_trail(db, margin=timedelta(0)) == 1
    assert await seal_audit_trail(db, margin=timedelta(0)) == 0

    monkeypatch.setattr(store.evidence, "SEAL_BATCH", 3)
    cases = [write_case(url) for _ in range(4)]
    made = await asyncio.gather(
        *(seal_audit_trail(Database(url), margin=timedelta(0)) for _ in range(4))
    )
    made_in_all = sum(made) + await seal_audit_trail(db, margin=timedelta(0))
    assert made_in_all == 7  # 20 entries, 3 a seal
    with session_scope(url) as session:
        verdict = verify(session)
        seals = list(session.exec(select(AuditSeal).order_by(AuditSeal.seq)))
    assert verdict.ok and verdict.seals == 8
    assert [s.seq for s in seals] == list(range(1, 9))
    last_id = max(r.id for c in [first, *cases] for r in trail(url, c))
    assert seals[-1].up_to_id == last_id and verdict.last_seal.root == seals[-1].root


# --- the migration -----------------------------------------------------------------------------


def test_the_migration_chains_the_entries_written_before_it(url):
    config = alembic_config(url)
    command.downgrade(config, "0005")
    old = sa.table(
        "audit_entry",
        *(sa.column(name) for name in CONTENT if name != "at"),
        sa.column("at", UTCDateTime()),
    )
    at = datetime.now(UTC)
    rows = [
        {"case_no": case_no, "seq": seq, "at": at + timedelta(seconds=seq), "user_id": "u-1",
         "user_name": "王助理", "role": "township_assistant", "action": f"step_{seq}",
         "from_stage": None if seq == 0 else "survey", "to_stage": "survey", "note": "备注"}
        for case_no in ("M-2", "M-1") for seq in (0, 1, 3)
    ]  # fmt: skip
    with get_engine(url).begin() as connection:
        connection.execute(sa.insert(old), rows)

    upgrade(url)
    for case_no in ("M-1", "M-2"):
        assert [r.seq for r in trail(url, case_no)] == [0, 1, 3]
        assert_chained(trail(url, case_no))
    # The next entry follows the last one chained by the migration.
    view = initial_view(case_start(case_no="M-1", database_url=url, accepted_at=at))
    later = AuditEntry("M-1", 4, datetime.now(UTC), SYSTEM, "case_halted", "survey", "halted")
    with session_scope(url, writes=True) as session:
        apply_transition(session, Transition(view, [later]))
    assert_chained(trail(url, "M-1"))
    with session_scope(url) as session:
        assert verify(session).ok


def test_the_migration_gives_each_case_its_head_and_ids_are_never_reused_after_it(url):
    cases = [write_case(url) for _ in range(2)]
    command.downgrade(alembic_config(url), "0008")
    upgrade(url)
    with session_scope(url) as session:
        heads = {h.case_no: (h.seq, h.hash, h.entry_id) for h in session.exec(select(CaseHead))}
        assert verify(session).ok
    newest = {c: trail(url, c)[-1] for c in cases}
    assert heads == {c: (4, row.hash, row.id) for c, row in newest.items()}
    sql(url, "DELETE FROM audit_entry WHERE id = :id", id=newest[cases[1]].id)
    later = write_case(url)
    assert min(r.id for r in trail(url, later)) > newest[cases[1]].id


# --- how verify reads: a check of the work it does, not a timing ----------------------------------


def fill(url: str, cases: int, *, prefix: str, per_case: int = 5) -> None:
    """``cases`` chained trails and their heads, inserted in one go."""
    at = datetime.now(UTC)
    rows = []
    for n in range(cases):
        prev = GENESIS
        for seq in range(per_case):
            content = {"case_no": f"{prefix}-{n:06d}", "seq": seq, "at": at, "user_id": "u-1",
                       "user_name": "王助理", "role": "township_assistant", "action": "step",
                       "from_stage": None, "to_stage": "survey", "note": ""}  # fmt: skip
            digest = entry_hash(content, prev)
            rows.append(AuditEntryRecord(**content, prev_hash=prev, hash=digest))
            prev = digest
    with session_scope(url, writes=True) as session:
        session.add_all(rows)
        session.flush()
        newest = {row.case_no: row for row in rows}
        session.add_all(
            CaseHead(case_no=r.case_no, seq=r.seq, hash=r.hash, entry_id=r.id)
            for r in newest.values()
        )


def test_verify_reads_every_entry_in_a_few_streamed_queries_however_many_there_are(url):
    """Each statement sent to the database is counted: as many for 10 entries as for 5,000
    (a query per row would show at once). Timings are for ``bench/evidence.py``."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = []
        for cases in (2, 998):
            fill(url, cases, prefix=f"P{cases}")
            seal_now(url)
            statements.clear()
            with session_scope(url) as session:
                verdict = verify(session)
            assert verdict.ok and verdict.first_mismatch is None
            counts.append((verdict.entries, len(statements)))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    (few, queries), (many, same) = counts
    assert (few, many) == (10, 5_000) and queries == same <= 8, counts


# --- the timeline ------------------------------------------------------------------------------


def test_a_timeline_counts_what_the_history_still_holds_and_not_what_the_api_wrote():
    at = datetime.now(UTC)

    def step(seq: int, action: str = "step") -> dict:
        return {"case_no": "C", "seq": seq, "at": at, "user_id": "u", "user_name": "名",
                "role": "admin", "action": action, "from_stage": "survey", "to_stage": "survey",
                "note": ""}  # fmt: skip

    records = {
        0: step(0, "accepted"),
        1: step(1),
        2: step(2),
        3: step(3),
        4: step(4, "case_halted"),
    }
    history = {2: step(2), 3: step(3) | {"note": "原文"}}
    # The earliest run's history is gone: steps 0 and 1 cannot be compared.
    steps = compare(history, records, complete=False)
    assert [(s.seq, s.source, s.in_history, s.matches) for s in steps] == [
        (0, "api", False, True), (1, "workflow", False, True), (2, "workflow", True, True),
        (3, "workflow", True, False), (4, "api", False, True),
    ]  # fmt: skip
    assert steps[3].differences == ["note"]
    # With the whole history, step 1 missing from it is a difference.
    assert [s.seq for s in compare(history, records, complete=True) if not s.matches] == [1, 3]


# --- the timeline of a case that continued as new ---------------------------------------------


@pytest.fixture
async def short_history_env():
    """A dev server that suggests continue-as-new after 150 events (the default is thousands)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL),
        data_converter=CONVERTER,
        search_attributes=ALL_KEYS,
        dev_server_extra_args=[
            "--headless", "--log-level", "error",
            "--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=150",
        ],
    )  # fmt: skip
    yield env
    await env.shutdown()


async def test_a_case_that_continued_as_new_has_every_step_in_its_timeline(
    short_history_env, api_settings
):
    settings = api_settings.model_copy(
        update={"temporal_address": short_history_env.client.service_client.config.target_host}
    )
    worker, external = create_worker(short_history_env.client, settings)
    async with worker:
        with serve(create_app(settings)) as address:
            stack = Stack(address, settings)
            async with stack.client(ASSISTANT) as http, stack.client(AUDITOR) as auditor:
                case_no = (await http.post("/applications", json=application())).json()["case_no"]
                for _ in range(12):
                    asked = await http.post(
                        f"/applications/{case_no}/documents-requested",
                        json={"documents": ["户口簿"], "note": "补正"},
                    )
                    assert asked.status_code == 200, asked.text
                    received = await http.post(
                        f"/applications/{case_no}/documents-received", json={"note": "已收"}
                    )
                    assert received.status_code == 200, received.text
                await wait_for(http, case_no, lambda c: c["verification"] is not None)
                timeline = (await auditor.get(f"/audit/cases/{case_no}/timeline")).json()
                records = (await http.get(f"/applications/{case_no}/audit-trail")).json()
    await external.close()
    assert timeline["runs"] >= 2 and timeline["history"] == "complete", timeline["runs"]
    assert timeline["matches"] is True
    steps = timeline["steps"]
    assert [s["seq"] for s in steps] == [e["seq"] for e in records] == list(range(len(records)))
    assert [s["action"] for s in steps].count("documents_received") == 12
    assert all(s["in_history"] for s in steps[1:])


# --- who may read the evidence ----------------------------------------------------------------


async def test_who_may_read_the_evidence(stack):
    url = stack.settings.database_url
    async with stack.client(ASSISTANT) as http:
        case_no = (await http.post("/applications", json=application())).json()["case_no"]
        requested = await http.post("/emergencies", json=emergency("370305001", "370305001001"))
        assert requested.status_code == 201, requested.text
        urgent = requested.json()["case_no"]
    timeline = f"/audit/cases/{case_no}/timeline"
    supervisor = replace(AUDITOR, user_id="u-supervisor", role=Role.supervisor)
    for reader in (AUDITOR, supervisor):
        async with stack.client(reader) as client:
            assert (await client.get("/audit/verify")).status_code == 200
            assert (await client.get(timeline)).status_code == 200
    async with stack.client(AUDITOR) as auditor:
        answer = (await auditor.get(f"/audit/cases/{urgent}/timeline")).json()
        assert answer["workflow_id"] == f"emergency-{urgent}" and answer["history"] == "complete"
        assert (await auditor.get("/audit/cases/370305-1999-000001/timeline")).status_code == 404
        # A case whose workflow is not there (never started, or past retention): said so.
        lost = write_case(url)
        answer = (await auditor.get(f"/audit/cases/{lost}/timeline")).json()
        assert (answer["history"], answer["matches"], answer["runs"]) == ("not found", None, 0)
        assert [s["in_records"] and not s["in_history"] for s in answer["steps"]] == [True] * 5

    async with stack.client(ASSISTANT) as assistant:
        for path in ("/audit/verify", timeline):
            refused = await assistant.get(path)
            assert refused.status_code == 403 and "auditor" in refused.json()["detail"]
    # An auditor works for the district: an auditor's account of a township is refused.
    township_auditor = replace(AUDITOR, user_id="u-auditor-001", jurisdiction="370305001")
    async with stack.client(township_auditor) as township:
        for path in ("/audit/verify", timeline):
            refused = await township.get(path)
            assert refused.status_code == 403 and "works for the district" in refused.text
