"""What supervision reads and writes in the records: the open cases' facts, the external calls
waiting for a retry, the problems the case engine's watch found, and the payroll's refused
payments and unreconciled batches."""

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import or_
from sqlmodel import Session, delete, select, update

from domain.cases import Stage
from domain.emergency import EmergencyStage
from domain.payroll import ItemStatus
from domain.recipients import RecipientStatus
from domain.reviews import OPEN as REVIEW_OPEN
from domain.supervision import (
    OpenCase,
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
    session: Session, *, jurisdiction: str, township: str | None, kind: str | None
) -> list[OpenCase]:
    """Every case of the jurisdiction still waiting for something (of one township, if
    named), with what supervision needs of it. Reads only the columns it needs."""
    retrying: dict[str, list[str]] = {}
    for case_no, activity in session.exec(select(ActivityRetry.case_no, ActivityRetry.activity)):
        retrying.setdefault(case_no, []).append(activity)
    cases: list[OpenCase] = []

    def where(query, table):
        query = within(query, table, jurisdiction=jurisdiction)
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
    session: Session, *, jurisdiction: str, township: str | None, kind: str | None
) -> list[Stuck]:
    """What supervision lists of the payroll: each household's month the bank refused (until a
    corrected account re-issues it), each batch whose totals differ from the bank's."""
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
    if kind in (None, "application"):
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
