"""A case whose workflow the case engine stopped (an operator terminated it, a bug failed it,
it timed out) is *halted* in the records. Money comes first: before anyone may restart or close
it, its payments are reconciled with the bank — what the bank paid under the case's payment keys
is recorded on the case, and a reserve hold is settled (the transfer was made) or released (it
was not). Until a supervisor closes it, the family's claim stays: no second case can pay the
family for the same need meanwhile.

Pure: the worker asks the bank and writes the ledger; these say what the answers mean and what
goes on the record.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.application import first_payment_key
from domain.cases import CLOSED_STAGES, SYSTEM, Actor, AuditEntry, CaseView, PaymentAttempt, Stage
from domain.emergency import CLOSED as EMERGENCY_CLOSED
from domain.emergency import EmergencyStage, EmergencyView, payment_key
from domain.errors import InvalidData, WrongStage

View = CaseView | EmergencyView

HALTED = frozenset({Stage.halted, EmergencyStage.halted})


def releases_claim(view: View) -> bool:
    """Whether the case is over, so its family may apply again: not while it may still pay
    (an approval not yet paid, a halted case not yet closed)."""
    if view.stage == Stage.approved:
        return view.first_payment_at is not None  # type: ignore[union-attr]
    closed = EMERGENCY_CLOSED if isinstance(view, EmergencyView) else CLOSED_STAGES
    return view.stage in closed - HALTED


@dataclass(frozen=True)
class BankTransfer:
    """A transfer the bank reports having made under one of the case's payment keys."""

    key: str
    transfer_id: str
    amount: Decimal
    account: str
    """Masked: the last four digits."""
    at: datetime


@dataclass(frozen=True)
class Reconciliation:
    """What the bank's answers mean for a halted case."""

    found: list[BankTransfer]
    """Transfers the bank made that the case does not show yet."""
    settle: list[str]
    """Open reserve holds whose transfer the bank made: the money left the reserve."""
    release: list[str]
    """Open reserve holds with no transfer: the money is available again."""


def halt(view: View, *, status: str, at: datetime, seq: int) -> AuditEntry:
    """The case engine reports the workflow ``status`` (terminated, failed, …): the case is
    halted from now on, on the record."""
    entry = AuditEntry(
        case_no=view.case_no,
        seq=seq,
        at=at,
        actor=SYSTEM,
        action="case_halted",
        from_stage=view.stage,
        to_stage=type(view.stage).halted,  # type: ignore[union-attr]
        note=(
            f"the case engine reports the workflow {status}; its payments are reconciled with "
            "the bank, then a supervisor restarts or closes the case"
        ),
    )
    view.halted_from, view.reconciled_at = view.stage, None
    view.stage = type(view.stage).halted  # type: ignore[union-attr]
    view.version, view.closed_at = seq, at
    return entry


def payment_keys(view: View) -> list[str]:
    """Every key the case may have been paid under, oldest attempt first (none before an
    approval)."""
    if isinstance(view, EmergencyView):
        if view.approved_amount is None:
            return []
        return [payment_key(view.case_no, n) for n in range(1, view.payment_attempt + 1)]
    if view.halted_from != Stage.approved and view.first_payment_at is None:
        return []
    return [first_payment_key(view.case_no, n) for n in range(1, view.payment_attempt + 1)]


def reconcile(
    view: View, *, transfers: list[BankTransfer], open_holds: list[str]
) -> Reconciliation:
    """Compare the bank's transfers under the case's keys with what the case shows, and say
    what becomes of each reserve hold still open (an emergency has at most one: the present
    attempt's)."""
    shown = {p.transfer_id for p in view.payments}
    paid_keys = {t.key for t in transfers}
    settle, release = [], []
    for hold in open_holds:
        attempt = attempt_of_hold(hold)
        (settle if payment_key(view.case_no, attempt) in paid_keys else release).append(hold)
    return Reconciliation(
        found=[t for t in transfers if t.transfer_id not in shown], settle=settle, release=release
    )


def record_reconciliation(
    view: View, result: Reconciliation, *, at: datetime, after_seq: int
) -> list[AuditEntry]:
    """Put what the bank paid on the case (its payments, the time it was paid) and the outcome
    on the record; the view is then reconciled."""
    entries: list[AuditEntry] = []

    def note(action: str, text: str) -> None:
        entries.append(
            AuditEntry(
                case_no=view.case_no,
                seq=after_seq + len(entries) + 1,
                at=at,
                actor=SYSTEM,
                action=action,
                from_stage=view.stage,
                to_stage=view.stage,
                note=text,
            )
        )

    for transfer in result.found:
        view.payments.append(
            PaymentAttempt(
                attempt=_attempt_of_payment(transfer.key),
                amount=transfer.amount,
                account=transfer.account,
                status="settled",
                at=transfer.at,
                transfer_id=transfer.transfer_id,
            )
        )
        if isinstance(view, EmergencyView):
            view.paid_at = view.paid_at or transfer.at
        else:
            view.first_payment_at = view.first_payment_at or transfer.at
        note(
            "payment_found_at_bank",
            f"transfer {transfer.transfer_id}: ¥{transfer.amount} to {transfer.account}; the "
            "workflow stopped before recording it",
        )
    outcome = [f"hold {h} settled: the transfer was made" for h in result.settle]
    outcome += [f"hold {h} released: the bank made no transfer" for h in result.release]
    settled = [p.transfer_id or "" for p in view.payments if p.status == "settled"]
    made = f"transfers to the family: {', '.join(settled)}" if settled else "no transfer"
    note("payments_reconciled", "; ".join([f"the bank reports {made}", *outcome]))
    view.reconciled_at = at
    view.version = after_seq + len(entries)
    return entries


def check_restart(view: View) -> None:
    """Only a halted case, once reconciled, starts again."""
    _check_halted(view, "restarted")


def close(view: View, *, actor: Actor, reason: str, at: datetime, seq: int) -> AuditEntry:
    """A supervisor closes a halted case, once reconciled, with reasons: the family may apply
    again. Its steps and payments so far stay on the record."""
    _check_halted(view, "closed")
    if not reason.strip():
        raise InvalidData("reason", "closing a case states its reason; it goes on the record")
    view.stage = type(view.stage).closed_by_supervisor  # type: ignore[union-attr]
    view.version, view.closed_at = seq, at
    return AuditEntry(
        case_no=view.case_no,
        seq=seq,
        at=at,
        actor=actor,
        action="closed_by_supervisor",
        from_stage=type(view.stage).halted,  # type: ignore[union-attr]
        to_stage=view.stage,
        note=reason,
    )


def refuse_on_halted(view: View, *, action: str) -> None:
    """Other actions than restart and close do nothing to a halted case: say what does."""
    if view.stage in HALTED:
        raise WrongStage(
            f"case {view.case_no} was halted by the case engine at stage '{view.halted_from}': "
            f"{action} cannot move it; a supervisor restarts it or closes it (restart, close)"
        )


def _check_halted(view: View, done: str) -> None:
    if view.stage not in HALTED:
        raise WrongStage(
            f"case {view.case_no} is at stage '{view.stage}': only a case whose workflow the "
            f"case engine stopped (halted) is {done} by a supervisor"
        )
    if view.reconciled_at is None:
        raise WrongStage(
            f"case {view.case_no} was halted; its payments are being reconciled with the bank "
            "first (within a few minutes): try again then"
        )


def attempt_of_hold(hold: str) -> int:
    """The payment attempt a hold key (``domain.emergency.hold_key``) belongs to."""
    return int(hold.rsplit(":hold:", 1)[1].split(":")[0])


def _attempt_of_payment(key: str) -> int:
    last = key.rsplit(":", 1)[1]
    return int(last) if last.isdigit() else 1
