"""The supervision summary and each page of the stuck list, counted and ordered by the database
(``summary_of``, ``stuck_page``), are the whole list made row by row (``stuck_rows``): on both
databases, with cases around today's limits (waiting, due soon, past due, reassigned, refused,
retrying, halted)."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from bench import audit
from domain.calendar import local_date
from domain.cases import Actor, Role
from domain.policy import Policy
from domain.supervision import Thresholds
from services.supervision import ORDER, stuck_page, stuck_rows, summary_of
from store.db import session_scope
from store.tables import ActivityRetry

APPLICATION_STAGES = ["survey", "review", "notice", "decision", "awaiting_documents", "halted"]
EMERGENCY_STAGES = ["awaiting_approval", "awaiting_funds", "paying", "awaiting_account", "paid",
                    "follow_up", "halted"]  # fmt: skip


def near_now(rng: random.Random):
    now = datetime.now(UTC)

    def shape(row: dict, kind: str) -> dict:
        if rng.random() < 0.3:
            return row  # as the bench made it
        since = now - timedelta(hours=rng.uniform(0, 24 * 16))
        row |= {"stage_since": since, "closed_at": None, "decided_at": None}
        if rng.random() < 0.2:
            row["assigned_at"] = now - timedelta(hours=rng.uniform(0, 24 * 8))
        if rng.random() < 0.05:
            row["engine_problem"] = rng.choice(["", "no workflow behind the record", "failing"])
        row["notice_refused"] = rng.random() < 0.05
        day = local_date(now) + timedelta(days=rng.randint(-3, 6))
        if kind == "application":
            row["stage"] = rng.choice(APPLICATION_STAGES)
            row |= {"survey_due": day, "decision_due": day + timedelta(days=rng.randint(0, 3))}
            row["verification_refused"] = rng.random() < 0.05
            row["awaiting_bank_account"] = rng.random() < 0.05
            if rng.random() < 0.1:
                row |= {"stage": "refused", "refusal_notice_due": day, "refusal_notified_at": None}
        else:
            row["stage"] = rng.choice(EMERGENCY_STAGES)
            row["pay_by"] = now + timedelta(hours=rng.uniform(-10, 10))
            row |= {"follow_up_due": day, "reviewed_at": None}
        return row

    return shape


@pytest.mark.parametrize("jurisdiction", ["370305", "370305001"])
def test_the_counted_summary_and_pages_are_the_list_row_by_row(each_database_url, jurisdiction):
    url, rng = each_database_url, random.Random(7)
    audit.seed(url, 1200, rng, shape=near_now(rng))
    with session_scope(url, writes=True) as session:
        retries = [{"case_no": f"370305-B-{n:07d}", "activity": a, "attempt": 2,
                    "last_failure": "down", "failed_at": datetime.now(UTC)}
                   for n in rng.sample(range(1200), 40) for a in ("verify", "pay")]  # fmt: skip
        session.execute(insert(ActivityRetry), retries)
    user = Actor(user_id="s", name="督办", role=Role.supervisor, jurisdiction=jurisdiction)
    given = {"thresholds": Thresholds(), "policy": Policy()}
    with session_scope(url) as session:
        rows = stuck_rows(session, user=user, township=None, kind=None, **given)
        summary = summary_of(session, user=user, **given)
        assert {r.reason for r in rows} >= {"overdue", "due_soon", "waiting_on_person",
                                            "retrying", "engine_problem"}  # fmt: skip
        assert summary.total == len({r.case_no for r in rows})
        assert summary.by_reason == dict(Counter(r.reason.value for r in rows))
        by_township: dict[str, Counter] = {}
        for r in rows:
            by_township.setdefault(r.township, Counter())[r.reason.value] += 1
        assert summary.by_township == {t: dict(c) for t, c in sorted(by_township.items())}

        def page(number: int, size: int, **filters) -> list:
            filters = {"township": None, "kind": None, "reason": None} | filters
            got = stuck_page(session, user=user, page=number, page_size=size, **filters, **given)
            return [got.total, [(r.case_no, r.reason, r.detail, r.due) for r in got.items]]

        def want(rows, number: int, size: int) -> list:
            shown = rows[(number - 1) * size : number * size]
            return [len(rows), [(r.case_no, r.reason, r.detail, r.due) for r in shown]]

        for number in range(1, len(rows) // 37 + 2):
            assert page(number, 37) == want(rows, number, 37), number
        for reason in ORDER:
            of_reason = [r for r in rows if r.reason == reason]
            assert page(2, 5, reason=reason) == want(of_reason, 2, 5), reason
        for kind in ("application", "emergency"):
            of_kind = stuck_rows(session, user=user, township="370305001", kind=kind, **given)
            assert page(1, 20, kind=kind, township="370305001") == want(of_kind, 1, 20), kind
