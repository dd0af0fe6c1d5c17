"""The district's monthly payroll (按月社会化发放): every recipient household paid in a month is
paid once for it, through the bank's batch interface (代发), one batch per township (and part)
and month, each line keyed by the household and the month. Pure: which months may run, what
the items and batches are called, and what the bank's answers mean."""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from domain.cases import SYSTEM, AuditEntry
from domain.errors import InvalidData
from domain.months import Month


class ItemStatus(StrEnum):
    pending = "pending"  # in a batch the bank has not answered yet
    paid = "paid"
    refused = "refused"  # for good (closed account, name mismatch): a caseworker corrects it
    reissuing = "reissuing"  # paid again, once, into the corrected account: under way


class PayrollStatus(StrEnum):
    running = "running"
    completed = "completed"


def check_month(text: str, *, now: datetime) -> Month:
    """The month a payroll may run for: ``YYYY-MM``, no later than next month (a district runs
    next month's early, before the bank's cut-off)."""
    month = Month.parse(text)
    latest = Month.at(now).plus(1)
    if month > latest:
        raise InvalidData("month", f"the payroll of {month} cannot run yet: the latest is {latest}")
    return month


def item_key(recipient_no: str, month: Month) -> str:
    """A household's line for a month, at the bank: one payment per household and month."""
    return f"{recipient_no}:{month}"


def reissue_key(recipient_no: str, month: Month, attempt: int) -> str:
    """A refused line paid again into a corrected account: each correction one new key, and
    never two under way at once (``ItemStatus.reissuing``)."""
    return f"{item_key(recipient_no, month)}:reissue:{attempt}"


def reissue_workflow_id(key: str) -> str:
    return f"reissue-{key}"


def batch_key(township: str, month: Month, part: int, item_keys: list[str]) -> str:
    """A batch's key at the bank: its township, month and part, and a digest of its lines (a
    batch's lines are fixed when it is made, so a resend carries the same key)."""
    digest = hashlib.sha256("\n".join(sorted(item_keys)).encode()).hexdigest()[:16]
    return f"payroll:{township}:{month}:{part}:{digest}"


def payroll_workflow_id(month: Month) -> str:
    """One payroll per month: starting it twice is impossible."""
    return f"payroll-{month}"


@dataclass(frozen=True)
class BatchTotals:
    """What the bank says it paid in a batch, and what the register says it paid."""

    batch: str
    bank_paid_count: int
    bank_paid_total: Decimal
    items_paid_count: int
    items_paid_total: Decimal

    @property
    def difference(self) -> Decimal:
        """Paid by the bank but not recorded (positive), or recorded but not paid (negative)."""
        return self.bank_paid_total - self.items_paid_total

    @property
    def reconciled(self) -> bool:
        return self.difference == 0 and self.bank_paid_count == self.items_paid_count


def payment_line(
    *,
    recipient_no: str,
    seq: int,
    at: datetime,
    standing: str,
    month: str,
    amount: Decimal,
    paid: bool,
    account: str,
    transfer_id: str | None,
    reason: str,
) -> AuditEntry:
    """A household's month on its trail: paid (into which account, by which transfer) or
    refused by the bank (why). ``standing``: the household's status, which it does not move."""
    note = (
        f"{month}: ¥{amount} paid into {account} ({transfer_id})"
        if paid
        else f"{month}: ¥{amount} refused by the bank: {reason}"
    )
    return AuditEntry(
        case_no=recipient_no, seq=seq, at=at, actor=SYSTEM,
        action="month_paid" if paid else "month_refused",
        from_stage=standing, to_stage=standing, note=note,
    )  # fmt: skip


def waves(townships: list[str], size: int) -> list[list[str]]:
    """The townships in groups of ``size`` run one after another (0: all in one group)."""
    if size <= 0 or size >= len(townships):
        return [townships]
    return [townships[n : n + size] for n in range(0, len(townships), size)]
