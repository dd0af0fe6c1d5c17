"""The district's figures for the operator's dashboard, counted in the database: cases by kind,
stage and township, overdue open cases, reserves, payments made and refused.

Counts and sums only, grouped by codes that name no one: they are served without sign-in.
Each is one grouped query over the case records, so a scrape costs a few table scans.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from domain.cases import CLOSED_STAGES
from domain.emergency import CLOSED as EMERGENCY_CLOSED
from store.tables import CaseRecord, EmergencyRecord, StaffNotification, TownshipReserve

APPLICATION, EMERGENCY = "application", "emergency"


@dataclass
class Figures:
    cases: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(kind, stage, township) → cases"""
    overdue: dict[tuple[str, str], int] = field(default_factory=dict)
    """(kind, township) → open cases past a deadline"""
    reserves: dict[str, tuple[Decimal, Decimal, Decimal]] = field(default_factory=dict)
    """township → (balance, held, minimum), yuan"""
    payments_made: dict[tuple[str, str], int] = field(default_factory=dict)
    """(kind, township) → cases paid (an application's first payment, an emergency payout)"""
    payments_refused: dict[str, int] = field(default_factory=dict)
    """township → transfers the payment system refused for good"""


def district_figures(session: Session) -> Figures:
    figures = Figures()
    for kind, table, closed in (
        (APPLICATION, CaseRecord, CLOSED_STAGES),
        (EMERGENCY, EmergencyRecord, EMERGENCY_CLOSED),
    ):
        rows = session.exec(
            select(table.stage, table.township, func.count()).group_by(table.stage, table.township)
        )
        for stage, township, count in rows:
            figures.cases[(kind, stage, township)] = count
        rows = session.exec(
            select(table.township, func.count())
            .where(col(table.overdue), col(table.stage).not_in([str(s) for s in closed]))
            .group_by(table.township)
        )
        for township, count in rows:
            figures.overdue[(kind, township)] = count

    paid = [
        (APPLICATION, CaseRecord, CaseRecord.first_payment_at),
        (EMERGENCY, EmergencyRecord, EmergencyRecord.paid_at),
    ]
    for kind, table, paid_at in paid:
        rows = session.exec(
            select(table.township, func.count())
            .where(col(paid_at).is_not(None))
            .group_by(table.township)
        )
        for township, count in rows:
            figures.payments_made[(kind, township)] = count
    rows = session.exec(
        select(StaffNotification.township, func.count())
        .where(StaffNotification.kind == "payment_refused")
        .group_by(StaffNotification.township)
    )
    figures.payments_refused = dict(rows.all())

    for reserve in session.exec(select(TownshipReserve)):
        figures.reserves[reserve.township] = (reserve.balance, reserve.held, reserve.minimum)
    return figures
