"""Alembic brings a database of the first release (migration 0001), with cases in it, up to the
present schema: every case, its audit trail and its household's claim survive
and read as before, the trail comes out chained, and the API serves those cases. On SQLite and,
when it answers, on PostgreSQL."""

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from pydantic import TypeAdapter
from sqlmodel import select

from api.main import create_app
from domain.cases import AuditEntry, CaseView, Stage, initial_view
from domain.evidence import content_of
from domain.identity import mask_id_number
from domain.recipients import STANDING_CLAIM
from domain.townships import DISTRICT_CODE
from store.db import get_engine, session_scope
from store.evidence import verify
from store.migrate import alembic_config, upgrade
from store.records import audit_trail, next_case_no, open_case_for, view_of
from store.reserve import recent_payout
from store.tables import CaseRecord, HouseholdClaim, IdempotencyRecord
from tests.helpers.actors import ASSISTANT
from tests.helpers.cases import case_start
from tests.helpers.people import id_number
from tests.helpers.servers import serve
from tests.helpers.stack import RING, Stack, fresh_postgres, postgres_reachable

LATER_VIEW_FIELDS = {
    "bank_account", "payment_attempt", "awaiting_bank_account", "stage_since", "stage_hours",
    "visited_on", "paused_working_days", "original_decision_due", "extended_working_days",
    "verification_refused", "notice_refused", "assigned_at",
}  # fmt: skip
"""What the case view gained after the first release: its rows were written without them."""


@pytest.fixture(params=["sqlite", "postgresql"])
def first_release_database(request, tmp_path) -> Iterator[str]:
    """An empty database at migration 0001."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'first-release.db'}"
        command.upgrade(alembic_config(url), "0001")
        yield url
        return
    if why := postgres_reachable():
        pytest.skip(f"no PostgreSQL to test against: {why}")
    with fresh_postgres("jiuzhu_migration") as url:
        command.upgrade(alembic_config(url), "0001")
        yield url


def write_as_the_first_release(url: str, views: list[CaseView], ids: list[str]) -> None:
    """Rows in the tables and columns of 0001 only, as the first release wrote them."""
    engine = get_engine(url)
    tables = sa.MetaData()
    tables.reflect(engine, only=["case_record", "audit_entry", "household_claim",
                                 "idempotency_record", "case_counter"])  # fmt: skip
    case_record, audit_entry = tables.tables["case_record"], tables.tables["audit_entry"]
    with engine.begin() as connection:
        for view, id_number in zip(views, ids, strict=True):
            old_view = {
                k: v for k, v in json.loads(_dump(view)).items() if k not in LATER_VIEW_FIELDS
            }
            columns = {c.name for c in case_record.columns}
            fields = {k: getattr(view, k) for k in columns if hasattr(view, k)}
            connection.execute(
                case_record.insert(),
                fields | {"applicant_id_number": id_number, "view": json.dumps(old_view)},
            )
            entries = [
                AuditEntry(view.case_no, 0, view.accepted_at, ASSISTANT, "accepted", None, "survey"),
                AuditEntry(view.case_no, 1, view.accepted_at + timedelta(hours=1), ASSISTANT,
                           "documents_requested", "survey", "awaiting_documents", note="户口本"),
            ]  # fmt: skip
            connection.execute(audit_entry.insert(), [content_of(e) for e in entries])
            connection.execute(
                tables.tables["household_claim"].insert(),
                {"assistance_type": "dibao", "id_number": id_number, "case_no": view.case_no},
            )
        connection.execute(tables.tables["case_counter"].insert(), {"year": 2025, "last": 3})
        connection.execute(
            tables.tables["idempotency_record"].insert(),
            {"user_id": ASSISTANT.user_id, "key": "k-1", "method": "POST",
             "path": "/applications", "status_code": 201, "body": '{"case_no": "kept"}',
             "created_at": datetime.now(UTC)},
        )  # fmt: skip


def _dump(view: CaseView) -> str:
    return TypeAdapter(CaseView).dump_json(view).decode()


async def test_a_first_release_database_with_cases_upgrades_to_the_present(
    first_release_database, dev_env, api_settings
):
    url = first_release_database
    at = datetime(2025, 6, 2, 1, 30, tzinfo=UTC)
    starts = [
        case_start(case_no=f"{DISTRICT_CODE}-2025-00000{n}", database_url=url, accepted_at=at)
        for n in (1, 2, 3)
    ]
    views = [replace(initial_view(s), stage=Stage.awaiting_documents) for s in starts]
    ids = [s.applicant.id_number for s in starts]
    write_as_the_first_release(url, views, ids)

    upgrade(url, ring=RING)

    with session_scope(url) as session:
        for view, id_number in zip(views, ids, strict=True):
            row = session.get(CaseRecord, view.case_no)
            read = view_of(row)
            assert (read.stage, read.decision_due, read.applicant_name) == (
                Stage.awaiting_documents,
                view.decision_due,
                view.applicant_name,
            )
            assert read.bank_account is None and read.stage_hours == {}  # later fields: defaults
            # Kept masked from 0008 on (the lists only ever showed it masked).
            assert row.applicant_id_number == mask_id_number(id_number) != id_number
            assert [e.action for e in audit_trail(session, case_no=view.case_no)] == [
                "accepted",
                "documents_requested",
            ]
            # The household's claim still refuses a second open application; its ID number is
            # kept as a keyed hash from 0010 on, and from 0012 on it is the one standing claim
            # of 低保 and 特困 together.
            found = open_case_for(
                session, assistance_type=STANDING_CLAIM, id_numbers=[id_number], ring=RING
            )
            assert found == view.case_no
        claims = session.exec(select(HouseholdClaim)).all()
        assert sorted(c.id_number_hash for c in claims) == sorted(RING.index(n) for n in ids)
        assert {c.key_id for c in claims} == {RING.current}
        verdict = verify(session)
        assert verdict.ok and verdict.entries == 6  # chained by migration 0006
        # A kept answer had no fingerprint to bind it to its request: 0002 lets it go (they
        # are kept a day, for retries), rather than replay it to a different request.
        assert session.exec(select(IdempotencyRecord)).all() == []
    with session_scope(url, writes=True) as session:
        assert next_case_no(session, district=DISTRICT_CODE, year=2025).endswith("-000004")

    # The API serves the old cases from the records (they have no workflow on this server).
    settings = api_settings.model_copy(update={"database_url": url})
    with serve(create_app(settings)) as api:
        async with Stack(api, settings).client(ASSISTANT) as assistant:
            listed = await assistant.get("/applications", params={"stage": "awaiting_documents"})
            assert listed.status_code == 200, listed.text
            assert {i["case_no"]: i["applicant_id_number"] for i in listed.json()["items"]} == {
                v.case_no: mask_id_number(n) for v, n in zip(views, ids, strict=True)
            }
            one = await assistant.get(f"/applications/{views[0].case_no}")
            assert one.status_code == 200, one.text
            assert one.json()["stage"] == "awaiting_documents" and one.json()["family"] is None


def test_the_id_numbers_kept_in_clear_in_the_claim_tables_are_hashed(first_release_database):
    """As the releases before 0010 kept them: a claim and a payout row per person, in clear."""
    url = first_release_database
    command.upgrade(alembic_config(url), "0009")
    people = [id_number(), id_number()]
    paid_at = datetime.now(UTC) - timedelta(days=3)
    with get_engine(url).begin() as connection:
        for person in people:
            connection.execute(
                sa.text("INSERT INTO household_claim (assistance_type, id_number, case_no) "
                        "VALUES ('emergency', :n, 'E-1')"),
                {"n": person},
            )  # fmt: skip
            connection.execute(
                sa.insert(sa.table("emergency_payout", *(sa.column(c) for c in
                          ("id_number", "case_no", "cause", "paid_at")))),
                {"id_number": person, "case_no": "E-0", "cause": "fire", "paid_at": paid_at},
            )  # fmt: skip

    with pytest.raises(RuntimeError, match="JIUZHU_ENCRYPTION_KEYS"):
        upgrade(url)  # no keys: refused, not left in clear
    upgrade(url, ring=RING)

    with get_engine(url).connect() as connection:
        for table in ("household_claim", "emergency_payout"):
            rows = [dict(r._mapping) for r in connection.execute(sa.text(f"SELECT * FROM {table}"))]
            assert len(rows) == 2
            assert not [v for r in rows for v in r.values() for n in people if n in str(v)]
            assert {r["key_id"] for r in rows} == {RING.current}
    with session_scope(url) as session:
        for person in people:
            found = open_case_for(
                session, assistance_type="emergency", id_numbers=[person], ring=RING
            )
            assert found == "E-1"
            since = paid_at - timedelta(days=1)
            assert recent_payout(session, id_numbers=[person], since=since, ring=RING) == "E-0"
