"""Corrections (容错纠错), dishonesty (失信) and a new 低保 standard, as rules on a recipient
household's course (``domain.recipients``, ``domain.benefits``).

A district officer corrects a benefit from a stated month (revoke an approval made in error, or
correct the amount), reaching back into months the payroll has paid: what those months paid
above what the corrected course says is an amount to recover (追回), a human process outside the
system whose outcome is recorded once. A finding that aid was obtained dishonestly ends the
benefit and shows at any later intake of any member. A new standard gives every household in
force its amount from a month. Pure: the store keeps them.
"""

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from domain.amounts import dibao_monthly_amount, tekun_monthly_amount
from domain.benefits import Outcome
from domain.errors import InvalidData
from domain.months import Month
from domain.policy import DibaoStandard, Policy
from domain.recipients import RecipientStatus, RecipientView

CORRECTIONS = {"revoke": Outcome.revoke, "amount": Outcome.adjust}
"""A correction's kind, and the decision it makes on the course."""


class RecoveryOutcome(StrEnum):
    recovered = "recovered"  # 已追回
    waived = "waived"  # 免于追回 (hardship, the office's own error)
    written_off = "written_off"  # 核销: cannot be recovered


class DishonestySource(StrEnum):
    review = "review"  # 核查
    emergency_follow_up = "emergency_follow_up"  # 急难救助补办核实
    correction = "correction"  # 容错纠错


def correction_reference(view: RecipientView) -> str:
    """``correction-<n>``: the household's next correction."""
    made = {c.reference for c in view.course if c.reference.startswith("correction-")}
    return f"correction-{len(made) + 1}"


def dishonesty_reference(view: RecipientView) -> str:
    made = {c.reference for c in view.course if c.reference.startswith("dishonesty-")}
    return f"dishonesty-{len(made) + 1}"


def standard_reference(from_month: Month) -> str:
    """A new standard is on a household's course once."""
    return f"standard-{from_month}"


@dataclass(frozen=True)
class Overpayment:
    """What months the payroll paid above what the corrected course says, and by how much."""

    months: dict[str, Decimal]
    underpaid: dict[str, Decimal]
    """Months paid below it (not recorded as owed: a district decision pays them)."""

    @property
    def amount(self) -> Decimal:
        return sum(self.months.values(), Decimal(0))


def overpayment(view: RecipientView, paid: dict[str, Decimal], *, since: Month) -> Overpayment:
    """Each month from ``since`` the payroll paid (``paid``: month → amount), against what the
    household's course now says for it."""
    over, under = {}, {}
    for month, amount in sorted(paid.items()):
        if Month.parse(month) < since:
            continue
        due = view.amount_in(Month.parse(month)) or Decimal(0)
        if amount > due:
            over[month] = amount - due
        elif amount < due:
            under[month] = due - amount
    return Overpayment(over, under)


def check_recovery_outcome(current: str | None, outcome: str) -> bool:
    """Whether recording ``outcome`` changes anything (the same outcome again does not);
    ``InvalidData`` for an unknown one. A recovery has one outcome: a different one is the
    caller's ``Conflict``."""
    try:
        RecoveryOutcome(outcome)
    except ValueError:
        raise InvalidData(
            "outcome", f"one of {', '.join(o.value for o in RecoveryOutcome)}"
        ) from None
    return current is None


def dishonesty_flag(recipient_no: str, found_on: date, source: str) -> str:
    """What a caseworker sees on a new case of a member: not a refusal, a flag."""
    return (
        f"失信: a member of this household belongs to household {recipient_no}, found on "
        f"{found_on} to have obtained aid dishonestly ({source}); check the application closely"
    )


def with_standard(policy: Policy, *, from_month: Month, standard: DibaoStandard) -> Policy:
    """The policy with ``standard`` for ``from_month``'s year (what a decision from then on is
    checked against)."""
    return replace(
        policy, dibao_standards=dict(policy.dibao_standards) | {from_month.year: standard}
    )


def amount_under(
    view: RecipientView,
    *,
    standard: DibaoStandard,
    before: DibaoStandard,
    month: Month,
    policy: Policy,
) -> Decimal:
    """The household's monthly amount under the new ``standard``: 特困 by its formula; 低保 the
    gap between the standard and its assessed income, for its size — or, for a household
    registered before its income was kept, the income its amount under the standard ``before``
    implies (its gap kept)."""
    area = view.area or "urban"
    if view.assistance_type == "tekun":
        return tekun_monthly_amount(
            policy=with_standard(policy, from_month=month, standard=standard),
            year=month.year,
            area=area,
        )
    pick = (lambda s: s.urban) if area == "urban" else (lambda s: s.rural)
    income = view.assessed_income
    if income is None:
        current = view.change_in(month.plus(-1)) or view.change_in(month)
        amount = current.amount if current else view.monthly_amount
        income = max(pick(before) * view.household_size - amount, Decimal(0))
    return dibao_monthly_amount(
        standard=pick(standard), household_size=view.household_size, household_income=income
    )


def in_force(view: RecipientView, month: Month) -> bool:
    """Paid in ``month`` (active or phasing out): a new standard changes its amount."""
    change = view.change_in(month)
    return change is not None and change.status in (
        RecipientStatus.active,
        RecipientStatus.phasing_out,
    )


def standard_text(recipient_no: str, month: Month, amount: Decimal) -> str:
    """The family is told its new amount (SMS)."""
    return (
        f"您家（救助档案号{recipient_no}）因低保标准调整，自{month.year}年{month.month}月起"
        f"救助金调整为每月{amount}元。"
    )
