"""What supervision reads and writes in the records: the open cases' facts, the external calls
waiting for a retry, the problems the case engine's watch found, and the payroll's refused
payments and unreconciled batches."""

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, delete, select, update

from domain.cases import OPEN_STAGES, Stage
from domain.emergency import OPEN as EMERGENCY_OPEN
from domain.emergency import UNPAID, EmergencyStage
from domain.payroll import ItemStatus
from domain.recipients import RecipientStatus
from domain.reviews import OPEN as REVIEW_OPEN
from domain.supervision import (
    Cutoffs,
    OpenCase,
    Reason,
    Stuck,
    application_deadlines,
    emergency_deadlines,
    not_registered,
    referral_overdue,
    refused_payment,
    review_overdue,
    unreconciled_batch,
)
from domain.townships import jurisdiction_level
from store.jurisdiction import within
from store.recipients import not_in_register
from store.records import live
from store.referrals import overdue_open
from store.tables import (
    ActivityRetry,
    CaseRecord,
    EmergencyRecord,
    PayrollBatch,
    PayrollItem,
    RecipientRecord,
    ReviewRecord,
)

LIMIT = 5_000
"""Overdue reviews listed at most (the oldest first would need a page of its own)."""


def open_cases(
    session: Session, *, jurisdiction: str, township: str | None, kind: str | None,
    case_nos: Collection[str] | None = None,
) -> list[OpenCase]:  # fmt: skip
    """Every case of the jurisdiction still waiting for something (of one township, if
    named; of those numbers, if given), with what supervision needs of it. Reads only the
    columns it needs."""
    retrying: dict[str, list[str]] = {}
    retries = select(ActivityRetry.case_no, ActivityRetry.activity)
    if case_nos is not None:
        retries = retries.where(ActivityRetry.case_no.in_(case_nos))
    for case_no, activity in session.exec(retries):
        retrying.setdefault(case_no, []).append(activity)
    cases: list[OpenCase] = []

    def where(query, table):
        query = within(query, table, jurisdiction=jurisdiction)
        if case_nos is not None:
            query = query.where(table.case_no.in_(case_nos))
        return query if township is None else query.where(table.township == township)

    if kind in (None, "application"):
        cases += _applications(session, where=where, retrying=retrying)
    if kind in (None, "emergency"):
        cases += _emergencies(session, where=where, retrying=retrying)
    return cases


def _applications(session: Session, *, where, retrying) -> list[OpenCase]:
    r = CaseRecord
    query = select(
        r.case_no, r.assistance_type, r.township, r.village, r.stage, r.stage_since,
        r.accepted_at, r.assignee, r.survey_due, r.surveyed_at, r.decision_due,
        r.refusal_notice_due, r.refusal_notified_at, r.verification_refused, r.notice_refused,
        r.awaiting_bank_account, r.engine_problem, r.start.is_not(None), r.assigned_at,
        r.halted_from, r.reconciled_at.is_not(None),
    ).where(or_(live(r), r.stage == Stage.halted.value))  # fmt: skip
    cases = []
    for row in session.exec(where(query, r)):
        (case_no, kind, town, place, stage, since, accepted, assignee, survey_due, surveyed,
         decision_due, refusal_due, refusal_sent, verification, sms, account, problem,
         has_start, assigned, halted_from, reconciled) = row  # fmt: skip
        refusals = [
            name
            for name, refused in (
                ("verification", verification),
                ("payment", account),
                ("sms", sms),
            )
            if refused
        ]
        cases.append(
            OpenCase(
                kind="application", case_no=case_no, type=kind, township=town, village=place,
                stage=stage, since=since or accepted, assignee=assignee, assigned_at=assigned,
                deadlines=application_deadlines(
                    stage=stage, survey_due=survey_due, surveyed=surveyed is not None,
                    decision_due=decision_due, refusal_notice_due=refusal_due,
                    refusal_notified=refusal_sent is not None,
                ),
                refusals=refusals,
                engine_problem=problem,
                retrying=retrying.get(case_no, []),
                has_start=bool(has_start),
                halted_from=halted_from,
                reconciled=bool(reconciled),
            )
        )  # fmt: skip
    return cases


def _emergencies(session: Session, *, where, retrying) -> list[OpenCase]:
    r = EmergencyRecord
    query = select(
        r.case_no, r.cause, r.township, r.village, r.stage, r.stage_since, r.requested_at,
        r.assignee, r.pay_by, r.follow_up_due, r.reviewed_at, r.notice_refused,
        r.engine_problem, r.start.is_not(None), r.assigned_at, r.halted_from,
        r.reconciled_at.is_not(None),
    ).where(or_(live(r), r.stage == EmergencyStage.halted.value))  # fmt: skip
    cases = []
    for row in session.exec(where(query, r)):
        (case_no, cause, town, place, stage, since, requested, assignee, pay_by, follow_up_due,
         reviewed, sms, problem, has_start, assigned, halted_from, reconciled) = row  # fmt: skip
        refusals = ["payment"] if stage == EmergencyStage.awaiting_account else []
        cases.append(
            OpenCase(
                kind="emergency", case_no=case_no, type=cause, township=town, village=place,
                stage=stage, since=since or requested, assignee=assignee, assigned_at=assigned,
                deadlines=emergency_deadlines(
                    stage=stage, pay_by=pay_by, follow_up_due=follow_up_due,
                    reviewed=reviewed is not None,
                ),
                refusals=refusals + (["sms"] if sms else []),
                engine_problem=problem,
                retrying=retrying.get(case_no, []),
                has_start=bool(has_start),
                halted_from=halted_from,
                reconciled=bool(reconciled),
            )
        )  # fmt: skip
    return cases


def mark_retry(
    session: Session, *, case_no: str, activity: str, attempt: int, failure: str, at: datetime
) -> None:
    """An external call failed and waits for its next attempt."""
    row = session.get(ActivityRetry, (case_no, activity)) or ActivityRetry(
        case_no=case_no, activity=activity, attempt=attempt, last_failure="", failed_at=at
    )
    row.attempt, row.last_failure, row.failed_at = attempt, failure[:500], at
    session.add(row)


def clear_retry(session: Session, *, case_no: str, activity: str) -> None:
    session.exec(
        delete(ActivityRetry).where(
            ActivityRetry.case_no == case_no, ActivityRetry.activity == activity
        )
    )


def set_engine_problem(session: Session, *, case_no: str, problem: str | None) -> None:
    """What the engine's watch found wrong with the case (None: nothing any more)."""
    for table in (CaseRecord, EmergencyRecord):
        session.exec(update(table).where(table.case_no == case_no).values(engine_problem=problem))


def payroll_problems(
    session: Session, *, jurisdiction: str, township: str | None, kind: str | None,
    unregistered: bool = True,
) -> list[Stuck]:  # fmt: skip
    """What supervision lists of the payroll: each household's month the bank refused (until a
    corrected account re-issues it), each batch whose totals differ from the bank's, and
    (``unregistered``) each approved case missing from the register."""
    rows: list[Stuck] = []
    if kind in (None, "recipient"):
        query = within(
            select(PayrollItem, RecipientRecord.assistance_type)
            .join(RecipientRecord, RecipientRecord.recipient_no == PayrollItem.recipient_no)
            .where(PayrollItem.status == ItemStatus.refused),
            RecipientRecord,
            jurisdiction=jurisdiction,
        )
        if township is not None:
            query = query.where(PayrollItem.township == township)
        rows += [
            refused_payment(
                recipient_no=item.recipient_no,
                assistance_type=kind_of,
                township=item.township,
                month=item.month,
                amount=item.amount,
                reason=item.reason,
                since=item.decided_at or datetime.now(UTC),
            )  # fmt: skip
            for item, kind_of in session.exec(query)
        ]
    if kind in (None, "payroll") and jurisdiction_level(jurisdiction) != "village":
        query = within(
            select(PayrollBatch).where(
                PayrollBatch.bank_paid_fen.is_not(None), PayrollBatch.reconciled_at.is_(None)
            ),
            PayrollBatch,
            jurisdiction=jurisdiction,
        )
        if township is not None:
            query = query.where(PayrollBatch.township == township)
        rows += [
            unreconciled_batch(
                batch_key=b.batch_key,
                township=b.township,
                month=b.month,
                difference=Decimal(b.bank_paid_fen - (b.items_paid_fen or 0)).scaleb(-2),
                since=datetime.now(UTC),
            )  # fmt: skip
            for b in session.exec(query)
        ]
    if kind in (None, "application") and unregistered:
        rows += [
            not_registered(
                case_no=row.case_no,
                assistance_type=row.assistance_type,
                township=row.township,
                since=row.first_payment_at,
            )  # fmt: skip
            for row in session.exec(
                within(
                    select(
                        CaseRecord.case_no,
                        CaseRecord.assistance_type,
                        CaseRecord.township,
                        CaseRecord.first_payment_at,
                    ).where(*not_in_register()),
                    CaseRecord,
                    jurisdiction=jurisdiction,
                ).where(*([CaseRecord.township == township] if township else []))
            )
        ]
    return rows


def engine_problems(session: Session, *, prefix: str) -> dict[str, str]:
    """The cases marked with an engine problem that starts with ``prefix``, and each one's."""
    return {
        case_no: problem
        for table in (CaseRecord, EmergencyRecord)
        for case_no, problem in session.exec(
            select(table.case_no, table.engine_problem).where(
                table.engine_problem.startswith(prefix)
            )
        )
    }


def never_written(
    session: Session, *, accepted_between: tuple[datetime, datetime]
) -> list[tuple[str, str]]:
    """Cases accepted in the window whose record no workflow has written yet (version 0) and
    that carry no engine problem: each one's number and kind."""
    found = []
    for kind, table, started in (
        ("application", CaseRecord, CaseRecord.accepted_at),
        ("emergency", EmergencyRecord, EmergencyRecord.requested_at),
    ):
        rows = session.exec(
            select(table.case_no).where(
                table.version == 0,
                table.engine_problem.is_(None),
                started.between(*accepted_between),
            )
        )
        found += [(case_no, kind) for case_no in rows]
    return found


def review_problems(
    session: Session, *, jurisdiction: str, township: str | None, kind: str | None, today: date
) -> list[Stuck]:
    """Recipient households whose review is past its due date: a review under way and not
    decided, or a periodic review the day's round has not opened."""
    if kind not in (None, "recipient"):
        return []
    where = [ReviewRecord.township == township] if township else []
    late = within(
        select(ReviewRecord).where(
            ReviewRecord.stage.in_([s.value for s in REVIEW_OPEN]),
            ReviewRecord.decision_due < today,
            *where,
        ),
        ReviewRecord,
        jurisdiction=jurisdiction,
    )
    rows = [
        review_overdue(
            number=r.review_no,
            assistance_type=r.assistance_type,
            township=r.township,
            stage=r.stage,
            due=r.decision_due,
            assignee="",
            opened=True,
        )  # fmt: skip
        for r in session.exec(late.limit(LIMIT))
    ]
    unopened = within(
        select(RecipientRecord).where(
            RecipientRecord.review_due < today,
            RecipientRecord.open_review.is_(None),
            RecipientRecord.status.in_([s.value for s in RecipientStatus if s.standing]),
            *([RecipientRecord.township == township] if township else []),
        ),
        RecipientRecord,
        jurisdiction=jurisdiction,
    )
    rows += [
        review_overdue(
            number=r.recipient_no,
            assistance_type=r.assistance_type,
            township=r.township,
            stage=r.status,
            due=r.review_due,
            assignee="",
            opened=False,
        )  # fmt: skip
        for r in session.exec(unopened.limit(LIMIT))
    ]
    return rows


def referral_problems(
    session: Session, *, jurisdiction: str, township: str | None, kind: str | None, today: date
) -> list[Stuck]:
    """Referrals from other departments past their verification date without an outcome."""
    if kind not in (None, "referral"):
        return []
    return [
        referral_overdue(
            referral_no=r.referral_no,
            situation=r.situation,
            department=r.department,
            township=r.township,
            verify_by=r.verify_by,
        )  # fmt: skip
        for r in overdue_open(
            session, jurisdiction=jurisdiction, township=township, today=today, limit=LIMIT
        )
    ]


# ---- counted and ordered by the database (the summary, and a page of the list) -----------
#
# Each test of ``domain.supervision.stuck_reasons`` is a condition on a record's columns
# against ``Cutoffs``: the database counts each one's rows by township, and for a page orders
# each one's cases by the list's order and gives the first few; only those cases are read and
# their rows made by ``stuck_reasons`` itself.


@dataclass(frozen=True)
class Test:
    """One row of the list per case that meets ``where``: its reason, and what the list orders
    the reason's rows by (a deadline's column; then the case's waiting since)."""

    reason: Reason
    where: Any
    due: Any = None


def _since(table):
    started = table.accepted_at if table is CaseRecord else table.requested_at
    return func.coalesce(table.stage_since, started)


def _waited(table, before: datetime):
    """Waiting since before ``before``: since its stage began and, if reassigned, since then."""
    return and_(
        _since(table) < before, or_(table.assigned_at.is_(None), table.assigned_at < before)
    )


def _deadline(due, applies, cut: Cutoffs) -> list[Test]:
    """A deadline at the end of the day ``due``: past, or due soon."""
    return [
        Test(Reason.overdue, and_(*applies, due.is_not(None), due < cut.today), due),
        Test(Reason.due_soon, and_(*applies, due.is_not(None), due >= cut.today,
                                   due <= cut.soon_until), due),
    ]  # fmt: skip


def _tests(table, cut: Cutoffs) -> list[Test]:
    """``stuck_reasons``' tests on one kind of record (the retries are ``_retrying``'s)."""
    r = table
    tests = [
        Test(Reason.waiting_on_person, and_(r.stage == stage, _waited(r, before)))
        for stage, before in cut.waited_before.items()
    ]
    if r is CaseRecord:
        tests += _deadline(r.survey_due, [r.stage == Stage.survey, r.surveyed_at.is_(None)], cut)
        deciding = [Stage.survey, Stage.review, Stage.notice, Stage.decision]
        tests += _deadline(r.decision_due, [r.stage.in_([s.value for s in deciding])], cut)
        tests += _deadline(
            r.refusal_notice_due, [r.stage == Stage.refused, r.refusal_notified_at.is_(None)], cut
        )
        refusals = [r.verification_refused, r.awaiting_bank_account, r.notice_refused]
        tests += [Test(Reason.refused_by_external_system, flag.is_(True)) for flag in refusals]
    else:
        waiting = r.stage == EmergencyStage.awaiting_approval
        tests.append(
            Test(Reason.waiting_on_person, and_(waiting, _waited(r, cut.approval_waited_before)))
        )
        unpaid = r.stage.in_([s.value for s in UNPAID])
        tests += [
            Test(Reason.overdue, and_(unpaid, r.pay_by <= cut.now), r.pay_by),
            Test(Reason.due_soon, and_(unpaid, r.pay_by > cut.now,
                                       r.pay_by <= cut.payout_soon_until), r.pay_by),
        ]  # fmt: skip
        following = r.stage.in_([EmergencyStage.paid.value, EmergencyStage.follow_up.value])
        tests += _deadline(r.follow_up_due, [following, r.reviewed_at.is_(None)], cut)
        tests += [
            Test(Reason.refused_by_external_system, r.stage == EmergencyStage.awaiting_account),
            Test(Reason.refused_by_external_system, r.notice_refused.is_(True)),
            Test(Reason.waiting_for_funds, r.stage == EmergencyStage.awaiting_funds),
        ]
    tests.append(
        Test(
            Reason.engine_problem,
            or_(
                r.stage == Stage.halted, and_(r.engine_problem.is_not(None), r.engine_problem != "")
            ),
        )
    )
    return tests


def _case_tables(kind: str | None) -> list:
    return [t for k, t in (("application", CaseRecord), ("emergency", EmergencyRecord))
            if kind in (None, k)]  # fmt: skip


def _open(table, *, jurisdiction: str, township: str | None, query):
    """``open_cases``' cases: live, or halted, of the jurisdiction (and township). Their
    stages named rather than the closed ones excluded, so that the index on the stage finds
    them; an approval not yet paid and a refusal not yet sent, by the index on the stage and
    those moments (``ix_case_record_unfinished``)."""
    if table is CaseRecord:
        stages = {*OPEN_STAGES, Stage.halted}
        where = or_(
            table.stage.in_(sorted(stages)),
            and_(table.stage == Stage.approved, table.first_payment_at.is_(None)),
            and_(table.stage == Stage.refused, table.refusal_notified_at.is_(None)),
        )
    else:
        where = table.stage.in_(sorted({*EMERGENCY_OPEN, EmergencyStage.halted}))
    query = within(query.where(where), table, jurisdiction=jurisdiction)
    return query if township is None else query.where(table.township == township)


def _retrying(table):
    return ActivityRetry.case_no == table.case_no


def stuck_counts(
    session: Session, *, jurisdiction: str, township: str | None, kind: str | None, cut: Cutoffs
) -> tuple[dict[str, Counter], int, set[str]]:
    """The open cases' rows of the list counted by township and reason, how many cases have
    any, and the approved-unregistered cases among those (``not_registered`` counts them
    too)."""
    counted: dict[str, Counter] = {}
    cases, overlap = 0, 0
    for table in _case_tables(kind):
        tests = _tests(table, cut)
        retrying = select(ActivityRetry.case_no).where(_retrying(table)).exists()
        stuck = or_(retrying, *(t.where for t in tests))
        columns = [func.sum(case((t.where, 1), else_=0)) for t in tests]
        columns.append(func.sum(case((stuck, 1), else_=0)))
        unregistered = [] if table is EmergencyRecord else [and_(stuck, *not_in_register())]
        columns += [func.sum(case((u, 1), else_=0)) for u in unregistered]
        query = _open(table, jurisdiction=jurisdiction, township=township,
                      query=select(table.township, *columns)).group_by(table.township)  # fmt: skip
        for town, *sums in session.exec(query):
            by_reason = counted.setdefault(town, Counter())
            for test, n in zip(tests, sums, strict=False):
                by_reason[test.reason] += n or 0
            cases += sums[len(tests)] or 0
            overlap += sum(n or 0 for n in sums[len(tests) + 1 :])
        # The calls waiting for a retry are few: the open cases among theirs.
        retries = Counter(session.exec(select(ActivityRetry.case_no)))
        if retries:
            query = _open(table, jurisdiction=jurisdiction, township=township,
                          query=select(table.township, table.case_no))  # fmt: skip
            for town, case_no in session.exec(query.where(table.case_no.in_(retries))):
                counted.setdefault(town, Counter())[Reason.retrying] += retries[case_no]
    return counted, cases, overlap


def stuck_case_numbers(
    session: Session, *, jurisdiction: str, township: str | None, kind: str | None,
    cut: Cutoffs, reason: Reason, first: int,
) -> set[str]:  # fmt: skip
    """The open cases whose rows of ``reason`` come first in the list's order (its deadline,
    then since when it waits): the ``first`` of each test, among which are the reason's first
    ``first`` rows."""
    found: set[str] = set()
    for table in _case_tables(kind):
        tests = [t for t in _tests(table, cut) if t.reason == reason]
        if reason == Reason.retrying:
            tests.append(
                Test(reason, select(ActivityRetry.case_no).where(_retrying(table)).exists())
            )
        for test in tests:
            order = [*([test.due] if test.due is not None else []), _since(table), table.case_no]
            query = _open(table, jurisdiction=jurisdiction, township=township,
                          query=select(table.case_no).where(test.where))  # fmt: skip
            found.update(session.exec(query.order_by(*order).limit(first)))
    return found


def not_registered_rows(
    session: Session, *, jurisdiction: str, township: str | None, first: int | None
) -> tuple[list[Stuck], dict[str, int]]:
    """``payroll_problems``' approved cases missing from the register, counted by township, and
    the ``first`` of them in the list's order (by first payment)."""
    c = CaseRecord
    where = [*not_in_register(), *([c.township == township] if township else [])]
    counted = within(select(c.township, func.count()).where(*where), c, jurisdiction=jurisdiction)
    counts = dict(session.exec(counted.group_by(c.township)).all())
    rows = []
    if first:
        query = within(
            select(c.case_no, c.assistance_type, c.township, c.first_payment_at).where(*where),
            c, jurisdiction=jurisdiction,
        ).order_by(c.first_payment_at, c.case_no).limit(first)  # fmt: skip
        rows = [
            not_registered(case_no=n, assistance_type=t, township=town, since=paid)
            for n, t, town, paid in session.exec(query)
        ]
    return rows, counts
