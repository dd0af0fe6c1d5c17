"""What the deadline-compliance report reads: only the columns its counts need, of only the
cases of the period (or still open at its end) within the reader's jurisdiction, on SQLite
and PostgreSQL alike; the counting is ``domain.compliance``'s.

Sized for a district's year (100,000 cases in well under a second): the database gives each
timestamp a deadline is compared with as its Asia/Shanghai date (a date comes back parsed in
C, a timestamp at a Python call each), and the cases stream in chunks while they are counted
(built all at once, 100,000 tuples keep Python's cycle collector walking them). On SQLite the
applications and emergencies are read from indexes holding exactly the columns read here
(``ix_case_record_compliance``, ``ix_emergency_record_compliance``, migration 0019), not from
the wide rows: a column read here and missing there sends the read back to the table."""

from collections.abc import Iterator
from datetime import date, datetime

from sqlalchemy import Date, DateTime, and_, case, func, or_, type_coerce
from sqlalchemy.types import UserDefinedType
from sqlmodel import Session, select

from domain.calendar import local_date
from domain.cases import DECIDED_STAGES, Stage
from domain.compliance import (
    ApplicationFacts,
    CareFacts,
    EmergencyFacts,
    Period,
    ReferralFacts,
    ReserveFacts,
    ReviewFacts,
    UnopenedFacts,
)
from domain.recipients import RecipientStatus
from domain.reserve import EntryKind
from domain.townships import jurisdiction_level
from store.jurisdiction import within
from store.tables import (
    CaseRecord,
    EmergencyRecord,
    RecipientRecord,
    ReferralRecord,
    ReserveEntry,
    ReviewRecord,
    TownshipReserve,
    TownshipRow,
)


def _local_day(session: Session, column):
    """The Asia/Shanghai date of a UTC timestamp column (China keeps +8 all year)."""
    if session.get_bind().dialect.name == "sqlite":
        day = func.date(column, "+8 hours")  # stored as UTC text
    else:
        day = func.date(func.timezone("Asia/Shanghai", column))
    return type_coerce(day, Date())


class _SQLiteUTC(UserDefinedType):
    """A UTC timestamp as SQLite stores it, read in one C call rather than ``UTCDateTime``'s
    three Python ones."""

    cache_ok = True

    def get_col_spec(self) -> str:
        return "TEXT"

    def result_processor(self, dialect, coltype):
        parse = datetime.fromisoformat
        return lambda text: None if text is None else parse(text + "+00:00")


def _moment(session: Session, column):
    """A UTC timestamp column, read as an aware datetime."""
    if session.get_bind().dialect.name == "sqlite":
        return type_coerce(column, _SQLiteUTC())
    return type_coerce(column, DateTime(timezone=True))  # psycopg gives it aware


def _stream(session: Session, query, facts) -> Iterator:
    """The rows as ``facts``, fetched a few hundred at a time as they are counted."""
    result = session.connection().execution_options(yield_per=500).execute(query)
    for rows in result.partitions():
        yield from map(facts._make, rows)


def _select(facts, *columns):
    """The columns, each labelled with its field of ``facts``, in the same order."""
    return select(*(c.label(name) for name, c in zip(facts._fields, columns, strict=True)))


def _of(query, table, *, jurisdiction: str, township: str | None):
    """The rows of the jurisdiction (``store.jurisdiction``), of one township if named."""
    query = within(query, table, jurisdiction=jurisdiction)
    return query if township is None else query.where(table.township == township)


def application_facts(
    session: Session,
    *,
    jurisdiction: str,
    township: str | None,
    assistance_type: str | None,
    period: Period,
) -> Iterator[ApplicationFacts]:
    """Applications decided or visited in the period, or open at its ``as_of``; read as they
    are consumed, within the session."""
    start, end, as_of = period.start, period.end, period.as_of
    c = CaseRecord
    query = _select(
        ApplicationFacts,
        c.township,
        c.assistance_type,
        c.stage,
        _local_day(session, c.accepted_at),
        _local_day(session, c.decided_at),
        _local_day(session, c.closed_at),
        case((c.stage == Stage.awaiting_documents.value, _local_day(session, c.stage_since))),
        c.survey_due,
        c.visited_on,
        c.decision_due,
        c.refusal_notice_due,
        _local_day(session, c.refusal_notified_at),
        c.paused_working_days,
        c.extended_working_days,
        c.longest_stage,
        c.provisional,
    ).where(
        or_(
            and_(
                c.decided_at >= start,
                c.decided_at < end,
                c.stage.in_([s.value for s in DECIDED_STAGES]),
            ),
            c.visited_on.between(period.first, period.last),
            and_(c.accepted_at < as_of, or_(c.closed_at.is_(None), c.closed_at > as_of)),
        )
    )
    query = _of(query, c, jurisdiction=jurisdiction, township=township)
    if assistance_type is not None:
        query = query.where(c.assistance_type == assistance_type)
    return _stream(session, query, ApplicationFacts)


def emergency_facts(
    session: Session,
    *,
    jurisdiction: str,
    township: str | None,
    period: Period,
) -> Iterator[EmergencyFacts]:
    """Emergencies requested in the period, or open at its ``as_of``; read as they are
    consumed, within the session."""
    start, end, as_of = period.start, period.end, period.as_of
    e = EmergencyRecord
    query = _select(
        EmergencyFacts,
        e.township,
        e.cause,
        e.stage,
        _moment(session, e.requested_at),
        _moment(session, e.pay_by),
        _moment(session, e.paid_at),
        e.follow_up_due,
        _local_day(session, e.reviewed_at),
        _local_day(session, e.closed_at),
    ).where(
        or_(
            and_(e.requested_at >= start, e.requested_at < end),
            and_(e.requested_at < as_of, or_(e.closed_at.is_(None), e.closed_at > as_of)),
        )
    )
    query = _of(query, e, jurisdiction=jurisdiction, township=township)
    return _stream(session, query, EmergencyFacts)


def reserve_facts(
    session: Session,
    *,
    jurisdiction: str,
    township: str | None,
    period: Period,
) -> list[ReserveFacts]:
    """Each township reserve of the jurisdiction: its ledger in the period up to ``as_of``, day
    by day, and the balance carried in. A village's user sees no reserve: it is the
    township's."""
    start, as_of = period.start, period.as_of
    level = jurisdiction_level(jurisdiction)
    if level == "village":
        return []
    r = TownshipReserve
    query = select(r.township, r.minimum_fen, r.balance_fen).order_by(r.township)
    if level == "township":
        query = query.where(r.township == jurisdiction)
    if township is not None:
        query = query.where(r.township == township)
    reserves = session.exec(query).all()
    codes = [code for code, _, _ in reserves]

    # The balance carried in: after the last entry before the period (by id: the ledger's order).
    last_before = (
        select(func.max(ReserveEntry.id))
        .where(ReserveEntry.township.in_(codes), ReserveEntry.at < start)
        .group_by(ReserveEntry.township)
    )
    carried = dict(
        session.exec(
            select(ReserveEntry.township, ReserveEntry.balance_after_fen).where(
                ReserveEntry.id.in_(last_before)
            )
        ).all()
    )
    # A reserve with no entry at all never moved from its recorded balance.
    with_entries = set(
        session.exec(
            select(ReserveEntry.township).where(ReserveEntry.township.in_(codes)).distinct()
        ).all()
    )
    # The ledger as a daily statement: each day's lowest balance and its closing balance (after
    # its last entry). Only top-ups and settlements move the balance; holds and releases move
    # the part held.
    e = ReserveEntry
    day = _local_day(session, e.at).label("day")
    daily = (
        select(
            e.township,
            day,
            func.min(e.balance_after_fen).label("lowest"),
            func.max(e.id).label("last_id"),
        )
        .where(
            e.township.in_(codes),
            e.kind.in_([EntryKind.top_up, EntryKind.settle]),
            e.at >= start,
            e.at < as_of,
        )
        .group_by(e.township, day)
        .subquery()
    )
    days: dict[str, list[tuple[date, int, int]]] = {code: [] for code in codes}
    for code, on, lowest, closing in session.connection().execute(
        select(daily.c.township, daily.c.day, daily.c.lowest, e.balance_after_fen)
        .join(e, e.id == daily.c.last_id)
        .order_by(daily.c.township, daily.c.day)
    ):
        days[code].append((on, lowest, closing))
    return [
        ReserveFacts(
            township=code,
            minimum_fen=minimum_fen,
            opening_fen=carried.get(code, None if code in with_entries else balance_fen),
            days=days[code],
        )
        for code, minimum_fen, balance_fen in reserves
    ]


def care_facts(
    session: Session, *, jurisdiction: str, township: str | None, period: Period
) -> list[CareFacts]:
    """特困 recipients registered by ``as_of`` and not terminated, counted by township, care
    form and self-care (a few rows a township, whatever the register's size)."""
    r = RecipientRecord
    query = (
        select(r.township, r.care_form, r.self_care, func.count())
        .where(
            r.assistance_type == "tekun",
            r.status != RecipientStatus.terminated.value,
            r.registered_at <= period.as_of,
        )
        .group_by(r.township, r.care_form, r.self_care)
    )
    query = _of(query, r, jurisdiction=jurisdiction, township=township)
    return [CareFacts(*row) for row in session.exec(query).all()]


def township_names(session: Session) -> dict[str, str]:
    return dict(session.exec(select(TownshipRow.code, TownshipRow.name)).all())


def review_facts(
    session: Session, *, jurisdiction: str, township: str | None, period: Period
) -> tuple[list[ReviewFacts], list[UnopenedFacts]]:
    """The reviews due in the period, and the households whose periodic review fell due in it
    without being opened."""
    query = within(
        select(
            ReviewRecord.township, ReviewRecord.assistance_type, ReviewRecord.decision_due,
            ReviewRecord.decided_at,
        ).where(
            ReviewRecord.decision_due >= period.first, ReviewRecord.decision_due <= period.last,
            ReviewRecord.stage != "cancelled",
        ),
        ReviewRecord,
        jurisdiction=jurisdiction,
    )  # fmt: skip
    if township:
        query = query.where(ReviewRecord.township == township)
    reviews = [
        ReviewFacts(t, a, due, local_date(decided) if decided else None)
        for t, a, due, decided in session.exec(query)
    ]
    unopened = within(
        select(
            RecipientRecord.township, RecipientRecord.assistance_type, RecipientRecord.review_due
        ).where(
            RecipientRecord.review_due >= period.first,
            RecipientRecord.review_due <= period.last,
            RecipientRecord.open_review.is_(None),
            RecipientRecord.status != "terminated",
        ),
        RecipientRecord,
        jurisdiction=jurisdiction,
    )
    if township:
        unopened = unopened.where(RecipientRecord.township == township)
    return reviews, [UnopenedFacts(*r) for r in session.exec(unopened)]


def referral_facts(
    session: Session, *, jurisdiction: str, township: str | None, period: Period
) -> list[ReferralFacts]:
    """The referrals received in the period (by their moment: the day is counted in
    Asia/Shanghai)."""
    query = within(
        select(
            ReferralRecord.township, ReferralRecord.situation, ReferralRecord.received_at,
            ReferralRecord.verify_by, ReferralRecord.acted_at,
        ).where(
            ReferralRecord.received_at >= period.start, ReferralRecord.received_at <= period.end
        ),
        ReferralRecord,
        jurisdiction=jurisdiction,
    )  # fmt: skip
    if township:
        query = query.where(ReferralRecord.township == township)
    return [
        ReferralFacts(t, s, local_date(received), due, local_date(acted) if acted else None)
        for t, s, received, due, acted in session.exec(query)
    ]
