"""The case records on both databases the project supports: SQLite (embedded) and PostgreSQL
(production). Each writer is idempotent, the household claim stops duplicates, and what was
accepted at intake is kept sealed."""

import base64
import dataclasses
import enum
import types
import typing
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import select

import store.hashed_ids
from domain.cases import AuditEntry, CaseView, Stage, initial_view
from domain.contracts import Transition
from domain.emergency import Emergency, EmergencyView
from domain.sealing import KeyRing, Unsealable
from domain.townships import DISTRICT_CODE
from settings import Settings
from store import reserve
from store.db import get_engine, session_scope
from store.migrate import alembic_config, rehash, reseal, upgrade
from store.recipients import open_payee
from store.records import (
    DuplicateApplication,
    apply_transition,
    claim_household,
    open_case_for,
    start_of,
    write_new_case,
)
from store.reserve import recent_payout
from store.tables import (
    NOT_IN_VIEW,
    AuditEntryRecord,
    CaseRecord,
    EmergencyPayout,
    EmergencyRecord,
    HouseholdClaim,
    RecipientRecord,
)
from tests.helpers.actors import ASSISTANT
from tests.helpers.cases import case_start, emergency_start, households
from tests.helpers.stack import RING


@pytest.fixture
def url(each_database_url) -> str:
    return each_database_url


def entry(
    case_no: str, seq: int, action: str, from_stage: Stage | None, to_stage: Stage
) -> AuditEntry:
    at = datetime.now(UTC)
    return AuditEntry(case_no, seq, at, ASSISTANT, action, from_stage, to_stage)


def members(start) -> list[str]:
    return [start.applicant.id_number, *(m.id_number for m in start.household)]


def claim(url: str, start) -> str:
    with session_scope(url, writes=True) as session:
        return claim_household(
            session,
            assistance_type=start.assistance_type,
            id_numbers=members(start),
            district=DISTRICT_CODE,
            year=start.accepted_at.year,
            ring=RING,
        )


def accepted(url: str):
    start = case_start(case_no="", database_url=url, accepted_at=datetime.now(UTC))
    start = replace(start, case_no=claim(url, start))
    view = initial_view(start)
    with session_scope(url, writes=True) as session:
        write_new_case(
            session,
            start=start,
            view=view,
            entry=entry(start.case_no, 0, "accepted", None, Stage.survey),
            ring=RING,
        )
    return start, view


def _kind(hint: object) -> tuple[object, bool]:
    """A type as a column holds it: an enum as its text; and whether None is allowed."""
    args = typing.get_args(hint)
    nullable = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    if nullable:
        [hint] = [a for a in args if a is not type(None)]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        hint = str
    return hint, nullable


@pytest.mark.parametrize(
    ("table", "view"), [(CaseRecord, CaseView), (EmergencyRecord, EmergencyView)]
)
def test_every_column_of_a_case_record_is_its_view_field_of_that_name_and_type(table, view):
    """A case's record is its view, column for column (a list filters and sorts what the case
    says), but for the few columns ``store.tables.NOT_IN_VIEW`` names, which the view has not."""
    fields = typing.get_type_hints(view)
    properties = {
        name: typing.get_type_hints(member.fget)["return"]
        for name, member in vars(view).items()
        if isinstance(member, property)
    }
    for name, column in table.model_fields.items():
        if name in NOT_IN_VIEW:
            assert name not in fields and name not in properties, f"{name} is the view's"
            continue
        assert name in fields or name in properties, (
            f"{table.__tablename__}.{name}: not in the view"
        )
        assert _kind(column.annotation) == _kind(fields.get(name) or properties[name]), name
    assert {f.name for f in dataclasses.fields(view)} & NOT_IN_VIEW == set()


def test_a_second_open_application_for_a_household_member_is_refused(url):
    start, _ = accepted(url)
    member = start.household[0]
    twin = replace(
        start, applicant=replace(start.applicant, id_number=member.id_number), household=[]
    )
    with pytest.raises(DuplicateApplication) as duplicate:
        claim(url, twin)
    assert duplicate.value.case_no == start.case_no


def test_of_many_concurrent_claims_on_one_household_one_wins_and_the_rest_name_it(url):
    start = case_start(case_no="", database_url=url, accepted_at=datetime.now(UTC))

    def attempt(_: int) -> str:
        try:
            return claim(url, start)
        except DuplicateApplication as duplicate:
            return f"duplicate of {duplicate.case_no}"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    winners = [o for o in outcomes if not o.startswith("duplicate")]
    assert len(winners) == 1, outcomes
    assert outcomes.count(f"duplicate of {winners[0]}") == 15
    with session_scope(url) as session:
        claims = session.exec(select(HouseholdClaim.case_no)).all()
        assert sorted(claims) == [winners[0]] * len(members(start))


def test_a_transition_written_twice_is_on_the_record_once_and_paying_frees_the_household(url):
    start, view = accepted(url)
    now = datetime.now(UTC)
    approved = replace(
        view, stage=Stage.approved, version=2, monthly_amount=Decimal("1860.50"), closed_at=now
    )
    entries = [
        entry(start.case_no, 1, "survey_completed", Stage.survey, Stage.review),
        entry(start.case_no, 2, "approved", Stage.decision, Stage.approved),
    ]
    for _ in range(2):  # a retried activity
        with session_scope(url) as session:
            apply_transition(session, Transition(view=approved, entries=entries))
    stale = replace(view, stage=Stage.review, version=1)
    with session_scope(url) as session:
        apply_transition(session, Transition(view=stale, entries=entries[:1]))

    def claims() -> list:
        with session_scope(url) as session:
            return session.exec(
                select(HouseholdClaim).where(HouseholdClaim.case_no == start.case_no)
            ).all()

    with session_scope(url) as session:
        row = session.get(CaseRecord, start.case_no)
        assert row.stage == "approved" and row.version == 2
        assert row.monthly_amount == Decimal("1860.50")
        assert row.closed_at.tzinfo is not None and abs((row.closed_at - now).total_seconds()) < 1
        seqs = session.exec(
            select(AuditEntryRecord.seq).where(AuditEntryRecord.case_no == start.case_no)
        ).all()
        assert sorted(seqs) == [0, 1, 2]
    assert claims()  # approved, not yet paid: the family's claim stays until the money has gone
    paid = replace(approved, version=3, first_payment_at=now)
    paying = entry(start.case_no, 3, "first_payment_made", Stage.approved, Stage.approved)
    with session_scope(url) as session:
        apply_transition(session, Transition(view=paid, entries=[paying]))
    assert not claims()


# --- what was accepted, sealed -------------------------------------------------------------------

RING_B = KeyRing(
    {
        "embedded-1": Settings().encryption_keys["embedded-1"],
        "b": base64.b64encode(b"b" * 32).decode(),
    },
    current="b",
)
"""The default key kept for reading, and a new one made current: a rotation."""


def kept(url: str, table: str, case_no: str) -> str:
    """The ``start`` column as the database holds it, read with plain SQL."""
    with get_engine(url).connect() as connection:
        return connection.execute(
            sa.text(f"SELECT start FROM {table} WHERE case_no = :c"), {"c": case_no}
        ).scalar_one()


def secrets_of(start) -> list[str]:
    people = [start.applicant, *start.household]
    return [p.id_number for p in people] + [start.applicant.phone, start.bank_account.account_no]


def an_emergency(url: str):
    start = emergency_start(case_no="", requested_at=datetime.now(UTC))
    with session_scope(url, writes=True) as session:
        case_no = claim_household(
            session, assistance_type="emergency", id_numbers=[start.applicant.id_number],
            district=DISTRICT_CODE, year=start.requested_at.year, ring=RING,
        )  # fmt: skip
    start = replace(start, case_no=case_no)
    with session_scope(url, writes=True) as session:
        write_new_case(
            session, view=Emergency.requested(start).view, start=start,
            entry=entry(case_no, 0, "requested", None, Stage.survey), ring=RING,
        )  # fmt: skip
    return start


def read_start(url: str, table: type, case_no: str, ring: KeyRing):
    """What was accepted, read back by the store from the row's ``start`` as the database holds
    it (read with plain SQL: the schema may be a migration behind the tables' newest columns)."""
    raw = kept(url, table.__tablename__, case_no)
    return start_of(table(case_no=case_no, start=raw), ring=ring)


def test_the_intake_is_kept_sealed_and_reads_back_whole(url):
    application, _ = accepted(url)
    emergency = an_emergency(url)
    for table, start in (("case_record", application), ("emergency_record", emergency)):
        raw = kept(url, table, start.case_no)
        assert raw.startswith("aes-gcm:embedded-1:")
        assert not [s for s in secrets_of(start) if s in raw]
    assert read_start(url, CaseRecord, application.case_no, RING) == application
    assert read_start(url, EmergencyRecord, emergency.case_no, RING) == emergency
    # A later transition rewrites the row and keeps the intake sealed as it was.
    before = kept(url, "case_record", application.case_no)
    view = replace(initial_view(application), version=1)
    with session_scope(url, writes=True) as session:
        apply_transition(
            session, Transition(view, [entry(application.case_no, 1, "x", None, Stage.survey)])
        )
    assert kept(url, "case_record", application.case_no) == before


def test_a_sealed_intake_does_not_open_for_another_case_or_without_its_key(url):
    first, _ = accepted(url)
    second, _ = accepted(url)
    with get_engine(url).begin() as connection:  # someone swaps the sealed intakes
        connection.execute(
            sa.text("UPDATE case_record SET start = :s WHERE case_no = :c"),
            {"s": kept(url, "case_record", first.case_no), "c": second.case_no},
        )
    with pytest.raises(Unsealable, match="does not open"):
        read_start(url, CaseRecord, second.case_no, RING)
    only_b = KeyRing({"b": base64.b64encode(b"b" * 32).decode()}, current="b")
    with pytest.raises(Unsealable, match="key 'embedded-1', which is not configured"):
        read_start(url, CaseRecord, first.case_no, only_b)


def test_the_migration_seals_the_plain_intakes_and_goes_back(url):
    application, _ = accepted(url)
    emergency = an_emergency(url)
    command.downgrade(alembic_config(url, ring=RING), "0006")
    plain = kept(url, "case_record", application.case_no)
    assert application.applicant.id_number in plain  # as rows were before sealing
    # A row of before still reads.
    assert read_start(url, CaseRecord, application.case_no, RING) == application

    with pytest.raises(RuntimeError, match="JIUZHU_ENCRYPTION_KEYS"):
        upgrade(url)  # no keys: refused, not left plain
    assert kept(url, "case_record", application.case_no) == plain
    upgrade(url, ring=RING)
    for table, start in (("case_record", application), ("emergency_record", emergency)):
        assert not [s for s in secrets_of(start) if s in kept(url, table, start.case_no)]
    assert read_start(url, CaseRecord, application.case_no, RING) == application
    assert read_start(url, EmergencyRecord, emergency.case_no, RING) == emergency


def test_after_a_rotation_reseal_leaves_nothing_under_the_old_key(url):
    application, _ = accepted(url)
    emergency = an_emergency(url)
    [household] = households(url, 1)
    assert reseal(url, ring=RING_B) == 4  # three intakes (one the household's case), its payee
    with session_scope(url) as session:
        row = session.get(RecipientRecord, household)
    assert row.payee.startswith("aes-gcm:b:")
    assert open_payee(row, ring=ONLY_B).account.account_no.endswith("000000000000")
    assert kept(url, "case_record", application.case_no).startswith("aes-gcm:b:")
    assert kept(url, "emergency_record", emergency.case_no).startswith("aes-gcm:b:")
    only_b = KeyRing({"b": base64.b64encode(b"b" * 32).decode()}, current="b")
    assert read_start(url, CaseRecord, application.case_no, only_b) == application
    assert read_start(url, EmergencyRecord, emergency.case_no, only_b) == emergency
    assert reseal(url, ring=RING_B) == 0  # nothing left to do


# --- ID numbers kept as keyed hashes (store.hashed_ids) -------------------------------------------

ONLY_B = KeyRing({"b": base64.b64encode(b"b" * 32).decode()}, current="b")


def test_intakes_hashing_with_different_current_keys_still_settle_their_race(url):
    """Mid-rotation, one process hashes with the old key as current and another with the new:
    each claims under every key of its ring, so they collide on the key they share."""
    start = case_start(case_no="", database_url=url, accepted_at=datetime.now(UTC))

    def attempt(n: int) -> str:
        try:
            with session_scope(url, writes=True) as session:
                return claim_household(
                    session, assistance_type=start.assistance_type, id_numbers=members(start),
                    district=DISTRICT_CODE, year=start.accepted_at.year,
                    ring=RING if n % 2 else RING_B,
                )  # fmt: skip
        except DuplicateApplication as duplicate:
            return f"duplicate of {duplicate.case_no}"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    winners = [o for o in outcomes if not o.startswith("duplicate")]
    assert len(winners) == 1, outcomes
    assert outcomes.count(f"duplicate of {winners[0]}") == 15


def claims_of(url: str, case_no: str) -> list[tuple[str, str]]:
    with session_scope(url) as session:
        rows = session.exec(select(HouseholdClaim).where(HouseholdClaim.case_no == case_no))
        return sorted((r.id_number_hash, r.key_id) for r in rows)


def test_after_a_rotation_rehash_brings_every_row_to_the_new_key_in_batches(url, monkeypatch):
    monkeypatch.setattr(store.hashed_ids, "BATCH", 2)
    applications = [accepted(url)[0] for _ in range(3)]
    emergency = an_emergency(url)
    with session_scope(url, writes=True) as session:
        reserve.hold(session, township=emergency.township, case_no=emergency.case_no,
                     amount=Decimal(1000), key="h", at=datetime.now(UTC))  # fmt: skip
        reserve.settle(session, hold_key="h", key="s", at=datetime.now(UTC),
                       members=members(emergency), cause="fire", ring=RING)  # fmt: skip

    paid_people = members(emergency)
    claimed = sum(len(members(start)) for start in applications) + 1  # the emergency's applicant
    assert rehash(url, ring=RING_B) == claimed + len(paid_people)
    assert rehash(url, ring=RING_B) == 0  # nothing left to do
    for start in applications:
        assert claims_of(url, start.case_no) == sorted(
            (RING_B.index(n), "b") for n in members(start)
        )
    with session_scope(url) as session:
        paid = session.exec(select(EmergencyPayout)).all()
        assert sorted((p.id_number_hash, p.key_id) for p in paid) == sorted(
            (RING_B.index(n), "b") for n in paid_people
        )
        # The old key may now leave the ring: the checks find every row under the new one.
        for start in applications:
            found = open_case_for(session, assistance_type=start.assistance_type,
                                  id_numbers=members(start)[1:], ring=ONLY_B)  # fmt: skip
            assert found == start.case_no
        since = datetime.now(UTC) - timedelta(days=1)
        assert recent_payout(session, id_numbers=members(emergency), since=since, ring=ONLY_B) == (
            emergency.case_no
        )

    # Claimed mid-rotation under both keys: the row under the old one goes, even once that
    # key has left the ring.
    start = case_start(case_no="", database_url=url, accepted_at=datetime.now(UTC))
    with session_scope(url, writes=True) as session:
        case_no = claim_household(
            session, assistance_type=start.assistance_type, id_numbers=members(start),
            district=DISTRICT_CODE, year=start.accepted_at.year, ring=RING_B,
        )  # fmt: skip
        start = replace(start, case_no=case_no)
        write_new_case(
            session, view=initial_view(start), start=start,
            entry=entry(case_no, 0, "accepted", None, Stage.survey), ring=RING_B,
        )  # fmt: skip
    assert {k for _, k in claims_of(url, case_no)} == {"embedded-1", "b"}
    assert rehash(url, ring=ONLY_B) == 2
    assert claims_of(url, case_no) == sorted((RING_B.index(n), "b") for n in members(start))
