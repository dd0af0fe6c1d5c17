"""Sweeps of a township's villages (摸底排查, ``domain.sweeps``) in the records: one row each,
and a referral (``store.referrals``, situation ``found_in_sweep``) for each family found, in
the same transaction, so a sweep is recorded with all its families or not at all."""

from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, delete, select

from domain.calendar import local_date
from domain.policy import Policy
from domain.referrals import Situation
from domain.sealing import KeyRing
from domain.supervision import Stuck, sweep_overdue_row
from domain.sweeps import (
    SWEEP_DEPARTMENT,
    SweepFacts,
    SweepRecord,
    check_sweep,
    next_sweep_due,
    sweep_overdue,
)
from domain.townships import jurisdiction_level
from store.referrals import Family, Filed, Filing, discard_referral, file_referral
from store.tables import SweepRow, TownshipRow, VillageRow


def record_sweep(
    session: Session, *, record: SweepRecord, now: datetime, policy: Policy, ring: KeyRing
) -> tuple[SweepRow, list[Filed]]:
    """The sweep, and each family found filed as a referral in the township's inbox (linked,
    as any referral, to the family's open case, household or open referral)."""
    villages = set(
        session.exec(select(VillageRow.code).where(VillageRow.township_code == record.township))
    )
    check_sweep(record, villages_of_township=villages, today=local_date(now))
    filed = [
        file_referral(
            session,
            filing=Filing(
                department=SWEEP_DEPARTMENT,
                situation=Situation.found_in_sweep,
                family=Family(f.name, f.id_number, f.phone),
                village=f.village,
                note=f"[{f.situation}] {f.note}".strip(),
            ),
            actor=record.actor,
            now=now,
            policy=policy,
            ring=ring,
        )  # fmt: skip
        for f in record.families
    ]
    row = SweepRow(
        township=record.township, swept_on=record.swept_on, villages=",".join(record.villages),
        families=len(record.families), referrals=",".join(f.row.referral_no for f in filed),
        note=record.note, recorded_at=now, recorded_by=record.actor.user_id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row, filed


def discard_sweep(session: Session, *, sweep_id: int) -> None:
    """Undo ``record_sweep`` when a referral's workflow could not be started."""
    row = session.get(SweepRow, sweep_id)
    if row is None:
        return
    for number in filter(None, row.referrals.split(",")):
        discard_referral(session, referral_no=number)
    session.exec(delete(SweepRow).where(SweepRow.id == sweep_id))


def sweeps_query(*, township: str):
    return select(SweepRow).where(SweepRow.township == township)


def last_sweeps(session: Session, *, before: date | None = None) -> dict[str, date]:
    """Each township's last sweep (on or before ``before``)."""
    query = select(SweepRow.township, func.max(SweepRow.swept_on)).group_by(SweepRow.township)
    if before is not None:
        query = query.where(SweepRow.swept_on <= before)
    return dict(session.exec(query).all())


def _townships(session: Session, *, jurisdiction: str, township: str | None) -> list[str]:
    """The townships a district or township account answers for (a village's: none — a sweep
    is the township's)."""
    level = jurisdiction_level(jurisdiction)
    if level == "village":
        return []
    codes = list(session.exec(select(TownshipRow.code).order_by(TownshipRow.code)))
    if level == "township":
        codes = [c for c in codes if c == jurisdiction]
    return [c for c in codes if township in (None, c)]


def sweep_problems(
    session: Session, *, jurisdiction: str, township: str | None, kind: str | None, today: date,
    policy: Policy,
) -> list[Stuck]:  # fmt: skip
    """Townships whose next sweep is past due."""
    if kind not in (None, "sweep"):
        return []
    last = last_sweeps(session)
    rows = []
    for code in _townships(session, jurisdiction=jurisdiction, township=township):
        due = next_sweep_due(
            last_swept=last.get(code), cadence_months=policy.sweep_cadence_months,
            counted_from=policy.sweeps_counted_from,
        )  # fmt: skip
        if sweep_overdue(due, today=today):
            rows.append(sweep_overdue_row(township=code, last_swept=last.get(code), due=due))
    return rows


def sweep_facts(session: Session, *, jurisdiction: str, township: str | None,
                last: date) -> tuple[list[SweepFacts], list[str]]:  # fmt: skip
    """The sweeps up to the period's last day, and the townships the report covers."""
    codes = _townships(session, jurisdiction=jurisdiction, township=township)
    query = select(SweepRow.township, SweepRow.swept_on, SweepRow.families).where(
        SweepRow.swept_on <= last, SweepRow.township.in_(codes)
    )
    return [SweepFacts(*r) for r in session.exec(query)], codes
