"""The case records on both databases the project supports: SQLite (embedded) and PostgreSQL
(production). Each writer is idempotent and the household claim stops duplicates."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from domain.cases import AuditEntry, Stage, initial_view
from domain.contracts import Transition
from domain.townships import DISTRICT_CODE
from store.db import session_scope
from store.records import DuplicateApplication, apply_transition, claim_household, write_new_case
from store.tables import AuditEntryRecord, CaseRecord, HouseholdClaim
from tests.support import ASSISTANT, case_start


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
        )
    return start, view


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


def test_a_transition_written_twice_is_on_the_record_once_and_closing_frees_the_household(url):
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

    with session_scope(url) as session:
        row = session.get(CaseRecord, start.case_no)
        assert row.stage == "approved" and row.version == 2
        assert row.monthly_amount == Decimal("1860.50")
        assert row.closed_at.tzinfo is not None and abs((row.closed_at - now).total_seconds()) < 1
        seqs = session.exec(
            select(AuditEntryRecord.seq).where(AuditEntryRecord.case_no == start.case_no)
        ).all()
        assert sorted(seqs) == [0, 1, 2]
        assert not session.exec(
            select(HouseholdClaim).where(HouseholdClaim.case_no == start.case_no)
        ).all()
