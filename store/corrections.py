"""Corrections (容错纠错) and findings of dishonesty (失信) on a recipient household, in the
records (``domain.corrections``): each a decision on its course through ``decide_benefit``,
what a correction found overpaid in ``benefit_recovery``, a finding in ``dishonesty_finding``
with its members as keyed hashes, every step on the household's trail."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, select

from domain.benefits import BenefitDecision, Outcome
from domain.calendar import local_date
from domain.cases import Actor, AuditEntry
from domain.corrections import (
    CORRECTIONS,
    DishonestySource,
    check_recovery_outcome,
    correction_reference,
    dishonesty_flag,
    dishonesty_reference,
    overpayment,
)
from domain.errors import Conflict, InvalidData, NotFound
from domain.months import Month
from domain.payroll import ItemStatus
from domain.policy import Policy
from domain.recipients import RecipientView
from domain.sealing import KeyRing
from store.evidence import append_entry
from store.hashed_ids import look_up
from store.recipients import decide_benefit, locked_recipient, view_of
from store.records import last_seq, start_of
from store.standards import policy_in_force
from store.tables import (
    BenefitRecovery,
    CaseRecord,
    DishonestyFinding,
    DishonestyMember,
    PayrollItem,
)


@dataclass(frozen=True)
class Corrected:
    view: RecipientView
    recovery: BenefitRecovery | None


def _trail(session: Session, *, recipient_no: str, view: RecipientView, **entry) -> None:
    append_entry(
        session,
        AuditEntry(
            case_no=recipient_no,
            seq=last_seq(session, case_no=recipient_no) + 1,
            from_stage=view.status,
            to_stage=view.status,
            **entry,
        ),
    )


def correct_benefit(
    session: Session,
    *,
    recipient_no: str,
    kind: str,
    effective_month: str,
    reasons: str,
    actor: Actor,
    now: datetime,
    policy: Policy,
    amount: Decimal | None = None,
    exception_reason: str | None = None,
) -> Corrected:
    """The correction on the household's course from its stated month, reaching back into
    months the payroll paid (``correction-<n>``); what those months paid above what the course
    now says recorded as an amount to recover, on the trail. Checked first: nothing written
    when it cannot stand (``InvalidData`` naming the field)."""
    if kind not in CORRECTIONS:
        raise InvalidData("kind", f"one of {', '.join(CORRECTIONS)}")
    since = Month.parse(effective_month, field="effective_month")
    decision = BenefitDecision(
        actor=actor, outcome=CORRECTIONS[kind], reasons=reasons, amount=amount,
        effective_month=str(since), exception_reason=exception_reason,
    )  # fmt: skip
    row = locked_recipient(session, recipient_no)
    reference = correction_reference(view_of(row))
    try:
        view = decide_benefit(
            session, recipient_no=recipient_no, decision=decision, reference=reference,
            now=now, policy=policy_in_force(session, policy), correction=True,
        )  # fmt: skip
    except InvalidData as refused:
        if refused.field == "outcome":  # the body names it the correction's kind
            raise InvalidData("kind", str(refused)) from None
        raise
    paid = session.exec(
        select(PayrollItem).where(
            PayrollItem.recipient_no == recipient_no,
            PayrollItem.status == ItemStatus.paid,
            PayrollItem.month >= str(since),
        )
    ).all()
    found = overpayment(view, {i.month: i.amount for i in paid}, since=since)
    recovery = None
    if found.amount > 0:
        recovery = BenefitRecovery(
            recipient_no=recipient_no,
            reference=reference,
            months=",".join(found.months),
            amount_fen=int(found.amount * 100),
            recorded_at=now,
            recorded_by=decision.actor.user_id,
        )
        session.add(recovery)
        session.flush()
        months = ", ".join(f"{m} ¥{a}" for m, a in found.months.items())
        _trail(
            session, recipient_no=recipient_no, view=view, at=now, actor=decision.actor,
            action="recovery_recorded",
            note=f"{reference}: overpaid ¥{found.amount} ({months}), to recover (#{recovery.id})",
        )  # fmt: skip
    if found.underpaid:
        owed = sum(found.underpaid.values(), Decimal(0))
        _trail(
            session, recipient_no=recipient_no, view=view, at=now, actor=decision.actor,
            action="underpayment_found",
            note=f"{reference}: underpaid ¥{owed} ({', '.join(found.underpaid)}); paid by a "
            "decision outside the payroll",
        )  # fmt: skip
    return Corrected(view, recovery)


def record_recovery_outcome(
    session: Session,
    *,
    recipient_no: str,
    recovery_id: int,
    outcome: str,
    note: str,
    actor: Actor,
    now: datetime,
) -> BenefitRecovery:
    """What became of an amount to recover, once: the same outcome again changes nothing, a
    different one is a ``Conflict``."""
    row = locked_recipient(session, recipient_no)
    recovery = session.exec(
        select(BenefitRecovery)
        .where(BenefitRecovery.id == recovery_id, BenefitRecovery.recipient_no == recipient_no)
        .with_for_update()
    ).first()
    if recovery is None:
        raise NotFound(f"no recovery {recovery_id} of household {recipient_no}")
    if not check_recovery_outcome(recovery.outcome, outcome):
        if recovery.outcome == outcome:
            return recovery
        raise Conflict(
            f"recovery {recovery_id} of household {recipient_no} was recorded "
            f"{recovery.outcome} on {local_date(recovery.outcome_at)}; an outcome is recorded once"
        )
    recovery.outcome, recovery.outcome_note = outcome, note
    recovery.outcome_at, recovery.outcome_by = now, actor.user_id
    session.add(recovery)
    _trail(
        session, recipient_no=recipient_no, view=view_of(row), at=now, actor=actor,
        action="recovery_outcome",
        note=f"#{recovery_id} ¥{recovery.amount} {outcome}" + (f": {note}" if note else ""),
    )  # fmt: skip
    return recovery


def recoveries_of(session: Session, *, recipient_no: str) -> list[BenefitRecovery]:
    return list(
        session.exec(
            select(BenefitRecovery)
            .where(BenefitRecovery.recipient_no == recipient_no)
            .order_by(BenefitRecovery.id)
        )
    )


def find_dishonesty(
    session: Session,
    *,
    recipient_no: str,
    source: str,
    reasons: str,
    effective_month: str | None,
    actor: Actor,
    now: datetime,
    policy: Policy,
    ring: KeyRing,
) -> tuple[RecipientView, DishonestyFinding]:
    """The finding on the household (its members kept as keyed hashes, to flag any later
    intake of one of them), and its benefit terminated from ``effective_month`` (default: the
    next month) — unless it has ended already."""
    try:
        DishonestySource(source)
    except ValueError:
        raise InvalidData(
            "source", f"one of {', '.join(s.value for s in DishonestySource)}"
        ) from None
    if not reasons.strip():
        raise InvalidData("reasons", "a finding of dishonesty gives its reasons")
    row = locked_recipient(session, recipient_no)
    view = view_of(row)
    start = start_of(session.get(CaseRecord, row.case_no), ring=ring)
    if start is None:
        raise InvalidData(
            "path.recipient_no",
            f"household {recipient_no}'s members are not kept with its case (accepted before "
            "intakes were kept): its finding could not flag them",
        )
    ended = None
    if view.status.standing:
        decision = BenefitDecision(
            actor=actor, outcome=Outcome.terminate, reasons=f"失信: {reasons}",
            effective_month=effective_month,
        )  # fmt: skip
        view = decide_benefit(
            session, recipient_no=recipient_no, decision=decision,
            reference=dishonesty_reference(view), now=now, policy=policy,
        )  # fmt: skip
        ended = view.course[-1].from_month
    elif effective_month is not None:
        raise InvalidData(
            "effective_month", f"household {recipient_no}'s benefit has ended already"
        )
    finding = DishonestyFinding(
        recipient_no=recipient_no, source=source, reasons=reasons, effective_month=ended,
        found_at=now, found_by=actor.user_id,
    )  # fmt: skip
    session.add(finding)
    session.flush()
    ids = [start.applicant.id_number, *(m.id_number for m in start.household)]
    session.add_all(
        DishonestyMember(finding_id=finding.id, id_number_hash=h, key_id=k)
        for n in dict.fromkeys(ids)
        for k, h in ring.indexes(n).items()
    )
    _trail(
        session, recipient_no=recipient_no, view=view, at=now, actor=actor,
        action="dishonesty_found",
        note=f"#{finding.id} ({source}): {reasons}"
        + (f"; benefit ended from {ended}" if ended else ""),
    )  # fmt: skip
    return view, finding


def findings_of(session: Session, *, recipient_no: str) -> list[DishonestyFinding]:
    return list(
        session.exec(
            select(DishonestyFinding)
            .where(DishonestyFinding.recipient_no == recipient_no)
            .order_by(DishonestyFinding.id)
        )
    )


def dishonesty_of_family(session: Session, *, id_numbers: list[str], ring: KeyRing) -> str | None:
    """The flag a new case of these people carries when one of them belongs to a household
    found dishonest (the latest finding), or None."""
    finding = session.exec(
        select(DishonestyFinding)
        .join(DishonestyMember, DishonestyMember.finding_id == DishonestyFinding.id)
        .where(DishonestyMember.id_number_hash.in_(look_up(ring, id_numbers)))
        .order_by(DishonestyFinding.found_at.desc())
    ).first()
    if finding is None:
        return None
    return dishonesty_flag(finding.recipient_no, local_date(finding.found_at), finding.source)
