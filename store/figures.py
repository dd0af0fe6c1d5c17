"""The district's figures for the operator's dashboard, counted in the database: cases by kind,
stage and township, overdue open cases, reserves, payments made and refused.

Counts and sums only, grouped by codes that name no one: they are served without sign-in.
A scrape costs one grouped pass over each case table.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import case, func
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
    payments_refused: dict[tuple[str, str], int] = field(default_factory=dict)
    """(kind, township) → transfers the payment system refused for good"""


def district_figures(session: Session) -> Figures:
    """One pass over each case table (grouped by stage and township, counting the overdue and
    the paid in the same pass), one over the refusals, and the reserves."""
    figures = Figures()
    for kind, table, closed, paid_at in (
        (APPLICATION, CaseRecord, CLOSED_STAGES, CaseRecord.first_payment_at),
        (EMERGENCY, EmergencyRecord, EMERGENCY_CLOSED, EmergencyRecord.paid_at),
    ):
        rows = session.exec(
            select(
                table.stage,
                table.township,
                func.count(),
                func.sum(case((col(table.overdue), 1), else_=0)),
                func.sum(case((col(paid_at).is_not(None), 1), else_=0)),
            ).group_by(table.stage, table.township)
        )
        for stage, township, count, overdue, paid in rows:
            figures.cases[(kind, stage, township)] = count
            if overdue and stage not in closed:
                _add(figures.overdue, (kind, township), overdue)
            if paid:
                _add(figures.payments_made, (kind, township), paid)

    # A refusal is a staff notice of the case; an emergency's case number is in its table.
    emergency = col(EmergencyRecord.case_no).is_not(None)
    rows = session.exec(
        select(StaffNotification.township, emergency, func.count())
        .join(
            EmergencyRecord,
            EmergencyRecord.case_no == StaffNotification.case_no,
            isouter=True,
        )
        .where(StaffNotification.kind == "payment_refused")
        .group_by(StaffNotification.township, emergency)
    )
    for township, is_emergency, count in rows:
        figures.payments_refused[(EMERGENCY if is_emergency else APPLICATION, township)] = count

    for reserve in session.exec(select(TownshipReserve)):
        figures.reserves[reserve.township] = (reserve.balance, reserve.held, reserve.minimum)
    return figures


def _add(counts: dict, key: tuple[str, str], n: int) -> None:
    counts[key] = counts.get(key, 0) + n
