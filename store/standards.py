"""The 低保 standards a district officer sets from a month (``dibao_standard_change``), and the
register following one: a page of households at a time, each given its amount under the new
standard by a decision on its course (``standard-<month>``: once, whatever reruns it)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog
from sqlmodel import Session, select

from domain.benefits import BenefitDecision, Outcome
from domain.cases import Actor, Role
from domain.corrections import amount_under, in_force, standard_reference, with_standard
from domain.errors import Conflict, InvalidData
from domain.months import Month
from domain.policy import DibaoStandard, Policy
from domain.recipients import STANDING_TYPES
from domain.sealing import KeyRing
from domain.townships import DISTRICT_CODE
from store.recipients import decide_benefit, first_unpaid_month, open_payee, view_of
from store.tables import DibaoStandardChange, PayrollRecord, RecipientRecord

log = structlog.get_logger()


def standard_in(session: Session, *, policy: Policy, month: Month) -> DibaoStandard:
    """The standard in force in ``month``: the latest set from a month not after it, else the
    policy's for its year."""
    row = session.exec(
        select(DibaoStandardChange)
        .where(DibaoStandardChange.from_month <= str(month))
        .order_by(DibaoStandardChange.from_month.desc())
    ).first()
    # The policy's standards hold from the January of their year: the later of the two holds.
    years = [y for y in policy.dibao_standards if y <= month.year]
    settled = Month(max(years), 1) if years else None
    if row is None or (settled is not None and settled > Month.parse(row.from_month)):
        return policy.dibao_standard(month.year)
    return DibaoStandard(urban=row.urban, rural=row.rural)


def policy_in_force(session: Session, policy: Policy) -> Policy:
    """The policy with each standard set from a month in force for its year (what a decision
    on a benefit is checked against)."""
    for row in session.exec(select(DibaoStandardChange).order_by(DibaoStandardChange.from_month)):
        policy = with_standard(
            policy,
            from_month=Month.parse(row.from_month),
            standard=DibaoStandard(urban=row.urban, rural=row.rural),
        )
    return policy


def record_change(
    session: Session,
    *,
    from_month: str,
    urban: Decimal,
    rural: Decimal,
    reasons: str,
    actor: Actor,
    now: datetime,
) -> tuple[DibaoStandardChange, bool]:
    """The new standard, kept (once: the same again is the one kept; another for the month is a
    ``Conflict``); whether it is new. A month whose payroll has run cannot take one."""
    month = Month.parse(from_month, field="from_month")
    this_month = Month.at(now)
    if month < this_month:
        raise InvalidData(
            "from_month", f"a new standard holds from this month ({this_month}) or a later one"
        )
    if month > this_month.plus(24):
        raise InvalidData("from_month", "a new standard is set at most two years ahead")
    paid = session.get(PayrollRecord, str(month))
    if paid is not None:
        raise InvalidData(
            "from_month",
            f"the payroll of {month} has run ({paid.status}); a new standard holds from a month "
            "not yet paid",
        )
    if not reasons.strip():
        raise InvalidData("reasons", "a new standard gives its grounds (the decision's document)")
    known = session.get(DibaoStandardChange, str(month))
    if known is not None:
        if (known.urban, known.rural) == (urban, rural):
            return known, False
        raise Conflict(
            f"a standard from {month} was set on {known.recorded_at:%Y-%m-%d} (urban ¥"
            f"{known.urban}, rural ¥{known.rural}); a standard for a month is set once"
        )
    row = DibaoStandardChange(
        from_month=str(month), urban=urban, rural=rural, reasons=reasons.strip(),
        recorded_at=now, recorded_by=actor.user_id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row, True


def changes(session: Session) -> list[DibaoStandardChange]:
    """The standards set, the latest month first."""
    return list(
        session.exec(select(DibaoStandardChange).order_by(DibaoStandardChange.from_month.desc()))
    )


@dataclass(frozen=True)
class Told:
    """A household to text its new amount."""

    recipient_no: str
    phone: str
    month: str
    amount: Decimal


SYSTEM = Actor("standard", "低保标准调整", Role.district_officer, DISTRICT_CODE)


def apply_page(
    session: Session,
    *,
    from_month: str,
    after: str,
    size: int,
    policy: Policy,
    ring: KeyRing,
    now: datetime,
) -> tuple[list[Told], str | None]:
    """The new standard on each household of the page numbered after ``after`` in force in its
    month (active or phasing out), from that month or the first its payroll has not paid (the
    household approved in it was paid by its approval): a decision on its course, once. The
    households holding it (this run's and an earlier's, to text, each once by its key) and
    the last number read (None: none was left)."""
    month = Month.parse(from_month)
    row = session.get(DibaoStandardChange, from_month)
    standard = DibaoStandard(urban=row.urban, rural=row.rural)
    before = standard_in(session, policy=policy, month=month.plus(-1))
    checked = with_standard(policy_in_force(session, policy), from_month=month, standard=standard)
    actor = Actor(row.recorded_by, SYSTEM.name, Role.district_officer, DISTRICT_CODE)
    reference = standard_reference(month)
    rows = session.exec(
        select(RecipientRecord.recipient_no)
        .where(
            RecipientRecord.recipient_no > after,
            RecipientRecord.assistance_type.in_(STANDING_TYPES),
        )
        .order_by(RecipientRecord.recipient_no)
        .limit(size)
    ).all()
    told = []
    for recipient_no in rows:
        household = session.get(RecipientRecord, recipient_no)
        view = view_of(household)
        made = next((c for c in view.course if c.reference == reference), None)
        if made is None:
            start = max(
                month,
                first_unpaid_month(
                    session, recipient_no=recipient_no, start_month=view.start_month
                ),
            )
            if not in_force(view, start):
                continue
            amount = amount_under(
                view, standard=standard, before=before, month=start, policy=policy
            )
            decision = BenefitDecision(
                actor=actor, outcome=Outcome.new_standard, amount=amount,
                reasons=f"低保标准调整 (urban ¥{standard.urban}, rural ¥{standard.rural}): "
                f"{row.reasons}",
                effective_month=str(start),
            )  # fmt: skip
            try:
                view = decide_benefit(
                    session, recipient_no=recipient_no, decision=decision, reference=reference,
                    now=now, policy=checked,
                )  # fmt: skip
            except InvalidData as refused:  # nothing written: left for its caseworkers
                log.warning(
                    "standard.not_applied", recipient_no=recipient_no, field=refused.field,
                    why=str(refused),
                )  # fmt: skip
                continue
            made = next(c for c in view.course if c.reference == reference)
        payee = open_payee(household, ring=ring)
        told.append(Told(recipient_no, payee.phone, made.from_month, made.amount))
    return told, (rows[-1] if rows else None)


def close_change(session: Session, *, from_month: str, now: datetime) -> int:
    """The register is done: how many households hold the new standard."""
    reference = standard_reference(Month.parse(from_month))
    held, after = 0, ""
    while rows := session.exec(
        select(RecipientRecord.recipient_no, RecipientRecord.view)
        .where(RecipientRecord.recipient_no > after)
        .order_by(RecipientRecord.recipient_no)
        .limit(1_000)
    ).all():
        after = rows[-1][0]
        held += sum(f'"reference":"{reference}"' in v for _, v in rows)
    row = session.get(DibaoStandardChange, from_month)
    if row.completed_at is None:
        row.completed_at, row.households = now, held
        session.add(row)
    return held
