"""Decisions on a recipient household's benefit (动态管理): continue it, adjust its amount,
suspend and resume it, phase it out (渐退) or end it — from a review, a change the family
reported, or a district officer's correction (容错纠错: revoke an approval made in error).

Each decision is a change on the household's course (``domain.recipients``), effective from a
stated month, so the payroll of that month pays what it says. Pure: the store writes it.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from domain.amounts import dibao_monthly_amount, tekun_monthly_amount
from domain.cases import Actor
from domain.errors import InvalidData
from domain.months import Month
from domain.policy import Policy
from domain.recipients import BenefitChange, RecipientStatus, RecipientView


class Outcome(StrEnum):
    continue_ = "continue"  # 继续: nothing changes but the next review's date
    adjust = "adjust"  # 调整: a new amount
    suspend = "suspend"  # 暂停
    resume = "resume"  # 恢复
    phase_out = "phase_out"  # 渐退: paid on for some months, then ended
    terminate = "terminate"  # 终止
    revoke = "revoke"  # 撤销: an approval made in error (a correction)
    new_standard = "new_standard"  # 标准调整: a new 低保 standard's amount, the status kept


ENDING = (Outcome.terminate, Outcome.revoke)
TOLD = (Outcome.suspend, Outcome.phase_out, Outcome.terminate, Outcome.revoke)
"""Decisions the family is told of with their reasons (SMS and a written decision)."""
ACTIONS = {
    Outcome.continue_: "benefit_continued",
    Outcome.adjust: "benefit_adjusted",
    Outcome.suspend: "benefit_suspended",
    Outcome.resume: "benefit_resumed",
    Outcome.phase_out: "benefit_phasing_out",
    Outcome.terminate: "benefit_terminated",
    Outcome.revoke: "approval_revoked",
    Outcome.new_standard: "standard_applied",
}
SETS_AMOUNT = (Outcome.adjust, Outcome.resume, Outcome.new_standard)


@dataclass(frozen=True)
class BenefitDecision:
    """A decision on the benefit, with its reasons; ``effective_month`` ``YYYY-MM`` (None: the
    next month). ``amount`` for an adjustment (or a resumption at a new amount);
    ``exception_reason`` (一事一议) for an amount above what the standard gives."""

    actor: Actor
    outcome: str
    reasons: str
    amount: Decimal | None = None
    effective_month: str | None = None
    exception_reason: str | None = None


def effective_month(decision: BenefitDecision, *, now: datetime) -> Month:
    """From when the decision holds: the month it names, or the next month."""
    if decision.effective_month is None:
        return Month.at(now).plus(1)
    return Month.parse(decision.effective_month, field="effective_month")


def standard_amount(view: RecipientView, *, policy: Policy, month: Month) -> Decimal:
    """The most the standard pays the household in ``month``: 低保 with no income at all, or
    特困's formula. Above it is 一事一议."""
    area = view.area or "urban"
    if view.assistance_type == "tekun":
        return tekun_monthly_amount(policy=policy, year=month.year, area=area)
    standard = policy.dibao_standard(month.year)
    return dibao_monthly_amount(
        standard=standard.urban if area == "urban" else standard.rural,
        household_size=view.household_size,
        household_income=Decimal(0),
    )


def check_decision(
    view: RecipientView,
    decision: BenefitDecision,
    *,
    now: datetime,
    policy: Policy,
    earliest: Month | None = None,
) -> Month:
    """Whether the decision can stand (``InvalidData`` naming the field if not, nothing
    changed): its reasons, a month from which the benefit exists in the state the outcome needs
    (``earliest``: the first month the payroll has not paid yet, when the decision may not reach
    back — a correction may), an amount the standard allows. Its effective month."""
    try:
        outcome = Outcome(decision.outcome)
    except ValueError:
        raise InvalidData("outcome", f"one of {', '.join(o.value for o in Outcome)}") from None
    if not decision.reasons.strip():
        raise InvalidData("reasons", "a decision on a benefit gives its reasons")
    month = effective_month(decision, now=now)
    began = Month.parse(view.start_month)
    if month < began:
        raise InvalidData(
            "effective_month", f"the household's benefit began in {began}; {month} is before it"
        )
    if earliest is not None and month < earliest and outcome is not Outcome.continue_:
        raise InvalidData(
            "effective_month",
            f"the payroll has paid the household up to {earliest.plus(-1)}; a change takes "
            f"effect from {earliest} at the earliest (what was paid is corrected by a district "
            "officer's correction)",
        )
    in_force = view.change_in(month)
    status = in_force.status if in_force else view.status
    needs = {
        Outcome.adjust: (RecipientStatus.active, RecipientStatus.suspended),
        Outcome.suspend: (RecipientStatus.active, RecipientStatus.phasing_out),
        Outcome.resume: (RecipientStatus.suspended,),
        Outcome.phase_out: (RecipientStatus.active,),
        Outcome.new_standard: (RecipientStatus.active, RecipientStatus.phasing_out),
    }.get(outcome, tuple(s for s in RecipientStatus if s.standing))
    if status not in needs:
        raise InvalidData(
            "outcome",
            f"household {view.recipient_no} is {status.value} in {month}; '{outcome.value}' "
            f"needs it {' or '.join(s.value for s in needs)}",
        )
    _check_amount(view, decision, outcome=outcome, policy=policy, month=month)
    return month


def _check_amount(
    view: RecipientView,
    decision: BenefitDecision,
    *,
    outcome: Outcome,
    policy: Policy,
    month: Month,
) -> None:
    amount = decision.amount
    if amount is None:
        if outcome in (Outcome.adjust, Outcome.new_standard):
            raise InvalidData("amount", "an adjustment names the new monthly amount")
        return
    if outcome not in SETS_AMOUNT:
        raise InvalidData("amount", f"'{outcome.value}' does not set an amount")
    if amount <= 0:
        raise InvalidData("amount", "a monthly amount is above zero (to stop paying: suspend)")
    most = standard_amount(view, policy=policy, month=month)
    exception = (decision.exception_reason or "").strip()
    if decision.exception_reason is not None and not exception:
        raise InvalidData("exception_reason", "一事一议 states its reason")
    if amount > most and not exception:
        raise InvalidData(
            "amount",
            f"¥{amount} is above ¥{most}, the most the standard pays this household in {month}; "
            "a higher amount is 一事一议: an exception_reason on the record",
        )
    if amount > policy.payment_ceiling:
        raise InvalidData("amount", f"no monthly amount above ¥{policy.payment_ceiling}")


def decide(
    view: RecipientView,
    decision: BenefitDecision,
    *,
    month: Month,
    now: datetime,
    phase_out_months: int,
    reference: str,
) -> str:
    """The decision on the household's course (checked first: ``check_decision``): the changes
    from ``month``, the status and amount as decided. ``reference`` (the review or correction)
    makes it once: a decision already on the course changes nothing. The note for its trail."""
    outcome = Outcome(decision.outcome)
    if any(c.reference == reference for c in view.course):
        return ""
    current = view.change_in(month) or view.course[-1]
    amount = decision.amount or current.amount

    def change(at_month: Month, status: RecipientStatus, paid: Decimal) -> BenefitChange:
        return BenefitChange(
            from_month=str(at_month), status=status, amount=paid, reason=decision.reasons,
            decided_by=decision.actor.user_id, at=now, reference=reference,
        )  # fmt: skip

    match outcome:
        case Outcome.continue_:
            changes = []
            note = "continued"
        case Outcome.adjust | Outcome.resume:
            changes = [change(month, RecipientStatus.active, amount)]
            note = f"¥{amount} a month from {month}"
        case Outcome.new_standard:  # a household phasing out is paid the new amount to its end
            changes = [change(month, current.status, amount)]
            note = f"¥{amount} a month from {month}"
        case Outcome.suspend:
            changes = [change(month, RecipientStatus.suspended, current.amount)]
            note = f"not paid from {month}"
        case Outcome.phase_out:
            end = month.plus(phase_out_months)
            changes = [
                change(month, RecipientStatus.phasing_out, current.amount),
                change(end, RecipientStatus.terminated, current.amount),
            ]
            note = f"¥{current.amount} a month from {month} to {end.plus(-1)}, ended from {end}"
        case Outcome.terminate | Outcome.revoke:
            changes = [change(month, RecipientStatus.terminated, current.amount)]
            note = f"ended from {month}"
    view.course.extend(changes)
    if changes:
        decided = changes[0]
        view.status, view.monthly_amount = decided.status, decided.amount
    return f"{note}: {decision.reasons}"
