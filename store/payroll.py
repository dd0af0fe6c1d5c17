"""A month's payroll in the records (``domain.payroll``): its items, one per household and
month, grouped into the batches of each township (parts of at most ``batch_size`` lines), and
what the bank answered for each. Every writer is idempotent: an item exists once, a batch's
lines are fixed when it is made, an answer recorded twice changes nothing."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, insert
from sqlmodel import Session, select, update

from domain.cases import AuditEntry
from domain.contracts import PaymentOrder, Reissue, ReissueOutcome
from domain.months import Month
from domain.payroll import (
    BatchTotals,
    ItemStatus,
    PayrollStatus,
    batch_key,
    item_key,
    payment_line,
)
from domain.sealing import KeyRing
from store.evidence import append_to_trails, month_on_trail
from store.jurisdiction import within
from store.recipients import VIEW, open_payee
from store.tables import (
    PayrollBatch,
    PayrollItem,
    PayrollRecord,
    RecipientRecord,
    TownshipRow,
)

PAGE = 2_000
"""Households read per query while items are made: bounded memory for any register."""


def open_payroll(session: Session, *, month: Month, by: str, at: datetime) -> list[str]:
    """The month's payroll is running (once); the townships it pays."""
    if session.get(PayrollRecord, str(month)) is None:
        session.add(
            PayrollRecord(
                month=str(month), status=PayrollStatus.running, started_at=at, started_by=by
            )
        )
    return list(session.exec(select(TownshipRow.code).order_by(TownshipRow.code)))


def close_payroll(session: Session, *, month: Month, at: datetime) -> None:
    row = session.get(PayrollRecord, str(month))
    if row is not None and row.status != PayrollStatus.completed:
        row.status, row.completed_at = PayrollStatus.completed, at
        session.add(row)


def make_items(session: Session, *, month: Month, township: str, batch_size: int) -> list[int]:
    """An item for every household of the township paid in ``month`` that has none yet (the
    month of its approval has one already), in new parts of at most ``batch_size``, each part
    written as it fills (memory bounded by a page, whatever the township's size); the
    township's parts for the month whose bank answer is not yet recorded."""
    made = _existing(session, month=month, township=township)
    part = 1 + (
        session.exec(
            select(func.max(PayrollBatch.part)).where(
                PayrollBatch.month == str(month), PayrollBatch.township == township
            )
        ).one()
        or 0
    )
    lines: list[dict] = []
    after = ""
    while rows := session.exec(
        select(RecipientRecord.recipient_no, RecipientRecord.view)
        .where(
            RecipientRecord.township == township,
            RecipientRecord.start_month <= str(month),
            RecipientRecord.recipient_no > after,
        )
        .order_by(RecipientRecord.recipient_no)
        .limit(PAGE)
    ).all():
        after = rows[-1][0]
        for recipient_no, view in rows:
            if recipient_no in made:
                continue
            if amount := VIEW.validate_json(view).amount_in(month):
                lines.append(
                    {"recipient_no": recipient_no, "amount_fen": int(amount * 100),
                     "key": item_key(recipient_no, month)}
                )  # fmt: skip
            if len(lines) == batch_size:
                _write_part(session, month=month, township=township, part=part, lines=lines)
                part, lines = part + 1, []
    if lines:
        _write_part(session, month=month, township=township, part=part, lines=lines)
    return list(
        session.exec(
            select(PayrollBatch.part)
            .where(
                PayrollBatch.month == str(month),
                PayrollBatch.township == township,
                PayrollBatch.reconciled_at.is_(None),
            )
            .order_by(PayrollBatch.part)
        )
    )


def _write_part(
    session: Session, *, month: Month, township: str, part: int, lines: list[dict]
) -> None:
    """A batch and its pending items, in two statements (no ORM objects held)."""
    common = {"month": str(month), "township": township, "part": part,
              "status": ItemStatus.pending, "reason": "", "account": "", "reissues": 0,
              "notified": False}  # fmt: skip
    session.execute(insert(PayrollItem), [common | line for line in lines])
    session.execute(
        insert(PayrollBatch).values(
            month=str(month),
            township=township,
            part=part,
            batch_key=batch_key(township, month, part, [line["key"] for line in lines]),
            items=len(lines),
            total_fen=sum(line["amount_fen"] for line in lines),
        )
    )


def _existing(session: Session, *, month: Month, township: str) -> set[str]:
    return set(
        session.exec(
            select(PayrollItem.recipient_no).where(
                PayrollItem.month == str(month), PayrollItem.township == township
            )
        )
    )


@dataclass(frozen=True)
class Line:
    """A batch line as the bank takes it."""

    item_key: str
    recipient_no: str
    month: str
    payee_name: str
    payee_id_number: str
    amount: Decimal
    purpose: str
    account: dict[str, str]


def batch_of(
    session: Session, *, month: Month, township: str, part: int, ring: KeyRing
) -> tuple[PayrollBatch, list[Line]]:
    """The batch and its lines (each household's account opened from the register)."""
    batch = session.get(PayrollBatch, (str(month), township, part))
    rows = session.exec(
        select(PayrollItem, RecipientRecord)
        .join(RecipientRecord, RecipientRecord.recipient_no == PayrollItem.recipient_no)
        .where(
            PayrollItem.month == str(month),
            PayrollItem.township == township,
            PayrollItem.part == part,
        )
        .order_by(PayrollItem.recipient_no)
    ).all()
    lines = []
    for item, household in rows:
        payee = open_payee(household, ring=ring)
        account = payee.account
        lines.append(
            Line(
                item_key=item.key,
                recipient_no=item.recipient_no,
                month=item.month,
                payee_name=account.holder,
                payee_id_number=payee.id_number,
                amount=item.amount,
                purpose=f"{household.assistance_type}:{item.month}",
                account={"bank": account.bank, "account_no": account.account_no,
                         "holder": account.holder},
            )
        )  # fmt: skip
    return batch, lines


def batch_sent(
    session: Session,
    *,
    month: Month,
    township: str,
    part: int,
    bank_batch_id: str,
    accounts: dict[str, str],
) -> None:
    """The bank took the batch: its id, and the (masked) account each line went to."""
    session.exec(
        update(PayrollBatch)
        .where(
            PayrollBatch.month == str(month),
            PayrollBatch.township == township,
            PayrollBatch.part == part,
        )
        .values(bank_batch_id=bank_batch_id)
    )
    session.connection().execute(
        update(PayrollItem).where(PayrollItem.key == bindparam("k")).values(account=bindparam("a")),
        [{"k": key, "a": masked} for key, masked in accounts.items()],
    )


@dataclass(frozen=True)
class LineResult:
    item_key: str
    status: str  # paid | refused
    transfer_id: str | None
    reason: str


def record_results(session: Session, *, results: list[LineResult], at: datetime) -> None:
    """The bank's answer for each line (recorded once: an item decided stays as it was), and
    each on its household's trail."""
    answers = {r.item_key: r for r in results}
    deciding = session.exec(
        select(PayrollItem, RecipientRecord.status)
        .join(RecipientRecord, RecipientRecord.recipient_no == PayrollItem.recipient_no)
        .where(PayrollItem.key.in_(list(answers)), PayrollItem.status == ItemStatus.pending)
    ).all()
    for status in (ItemStatus.paid, ItemStatus.refused):
        chosen = [r for r in results if r.status == status]
        if chosen:
            session.connection().execute(
                update(PayrollItem)
                .where(PayrollItem.key == bindparam("k"), PayrollItem.status == ItemStatus.pending)
                .values(
                    status=status, transfer_id=bindparam("t"), reason=bindparam("r"), decided_at=at
                ),
                [{"k": r.item_key, "t": r.transfer_id, "r": r.reason[:300]} for r in chosen],
            )
    lines = {item.recipient_no: (item, standing) for item, standing in deciding}

    def line(recipient_no: str, seq: int) -> AuditEntry:
        item, standing = lines[recipient_no]
        answer = answers[item.key]
        return payment_line(
            recipient_no=recipient_no, seq=seq, at=at, standing=standing, month=item.month,
            amount=item.amount, paid=answer.status == ItemStatus.paid, account=item.account,
            transfer_id=answer.transfer_id, reason=answer.reason[:300],
        )  # fmt: skip

    append_to_trails(session, list(lines), line)


def reconcile_batch(
    session: Session,
    *,
    month: Month,
    township: str,
    part: int,
    bank_paid_count: int,
    bank_paid_total: Decimal,
    at: datetime,
) -> BatchTotals:
    """The bank's totals for the batch against the items it recorded paid, to the fen."""
    count, fen = session.exec(
        select(func.count(), func.coalesce(func.sum(PayrollItem.amount_fen), 0)).where(
            PayrollItem.month == str(month),
            PayrollItem.township == township,
            PayrollItem.part == part,
            PayrollItem.status == ItemStatus.paid,
        )
    ).one()
    batch = session.get(PayrollBatch, (str(month), township, part))
    totals = BatchTotals(
        batch=batch.batch_key,
        bank_paid_count=bank_paid_count,
        bank_paid_total=bank_paid_total,
        items_paid_count=count,
        items_paid_total=Decimal(fen).scaleb(-2),
    )
    batch.bank_paid_count, batch.bank_paid_fen = bank_paid_count, int(bank_paid_total * 100)
    batch.items_paid_count, batch.items_paid_fen = count, fen
    batch.reconciled_at = at if totals.reconciled else None
    session.add(batch)
    return totals


def items_to_tell(
    session: Session, *, month: Month, township: str, part: int
) -> Iterator[tuple[PayrollItem, RecipientRecord]]:
    """Decided items whose family (paid) or caseworker (refused) is not told yet."""
    yield from session.exec(
        select(PayrollItem, RecipientRecord)
        .join(RecipientRecord, RecipientRecord.recipient_no == PayrollItem.recipient_no)
        .where(
            PayrollItem.month == str(month),
            PayrollItem.township == township,
            PayrollItem.part == part,
            PayrollItem.status != ItemStatus.pending,
            PayrollItem.notified.is_(False),
        )
    ).all()


def told(session: Session, *, keys: list[str]) -> None:
    if keys:
        session.exec(update(PayrollItem).where(PayrollItem.key.in_(keys)).values(notified=True))


def payments_of(session: Session, *, recipient_no: str) -> list[PayrollItem]:
    """The household's items, one a month, the newest first."""
    return list(
        session.exec(
            select(PayrollItem)
            .where(PayrollItem.recipient_no == recipient_no)
            .order_by(PayrollItem.month.desc())
        )
    )


def reissues_under_way(session: Session, *, limit: int = 500) -> list[Reissue]:
    """Months being re-issued (a corrected account recorded): their workflow may not have
    started (the engine did not answer the caseworker's request)."""
    return [
        Reissue(i.recipient_no, i.month, i.reissue_key)
        for i in session.exec(
            select(PayrollItem)
            .where(PayrollItem.status == ItemStatus.reissuing)
            .order_by(PayrollItem.recipient_no, PayrollItem.month)
            .limit(limit)
        )
    ]


def reissue_order(session: Session, *, reissue: Reissue, ring: KeyRing) -> PaymentOrder | None:
    """The transfer that re-issues a refused month into the household's account now (None:
    this re-issue was decided already)."""
    item = session.get(PayrollItem, (reissue.recipient_no, reissue.month))
    if item is None or item.status != ItemStatus.reissuing or item.reissue_key != reissue.key:
        return None
    household = session.get(RecipientRecord, reissue.recipient_no)
    payee = open_payee(household, ring=ring)
    return PaymentOrder(
        case_no=household.case_no,
        key=reissue.key,
        payee_name=payee.account.holder,
        payee_id_number=payee.id_number,
        amount=item.amount,
        purpose=f"{household.assistance_type}:{item.month}:reissue",
        account=payee.account,
        recipient_no=reissue.recipient_no,
        month=item.month,
    )


def record_reissue(
    session: Session, *, outcome: ReissueOutcome, at: datetime
) -> tuple[PayrollItem, RecipientRecord] | None:
    """The bank's answer to a re-issue (recorded once); the item and its household."""
    item = session.exec(select(PayrollItem).where(PayrollItem.reissue_key == outcome.key)).first()
    if item is None or item.status != ItemStatus.reissuing:
        return None
    household = session.get(RecipientRecord, item.recipient_no)
    if outcome.transfer_id:
        item.status, item.transfer_id = ItemStatus.paid, outcome.transfer_id
        item.account, item.reason = household.bank_account, ""
    else:
        item.status, item.reason = ItemStatus.refused, outcome.reason[:300]
    item.decided_at = at
    session.add(item)
    month_on_trail(
        session, recipient_no=item.recipient_no, at=at, standing=household.status,
        month=item.month, amount=item.amount, paid=item.status == ItemStatus.paid,
        account=item.account, transfer_id=item.transfer_id, reason=item.reason,
    )  # fmt: skip
    return item, household


@dataclass(frozen=True)
class Figures:
    """A township's share of a month's payroll, by the items' status: counts and amounts."""

    township: str
    households: int
    total: Decimal
    paid: tuple[int, Decimal]
    refused: tuple[int, Decimal]
    pending: tuple[int, Decimal]
    """Not yet answered by the bank (or re-issued, under way)."""
    difference: Decimal
    """The bank's batch totals less the items recorded paid (0: reconciled to the fen)."""
    unreconciled_batches: list[str]


def payrolls(session: Session) -> list[PayrollRecord]:
    """Every month's payroll, the newest first."""
    return list(session.exec(select(PayrollRecord).order_by(PayrollRecord.month.desc())))


def figures(session: Session, *, month: Month, jurisdiction: str) -> list[Figures]:
    """Each township of the jurisdiction with items this month: what its payroll paid."""
    by_status = session.exec(
        within(
            select(
                PayrollItem.township,
                PayrollItem.status,
                func.count(),
                func.coalesce(func.sum(PayrollItem.amount_fen), 0),
            ).where(PayrollItem.month == str(month)),
            PayrollItem,
            jurisdiction=jurisdiction,
        ).group_by(PayrollItem.township, PayrollItem.status)
    ).all()
    batches = session.exec(
        within(
            select(PayrollBatch).where(
                PayrollBatch.month == str(month), PayrollBatch.bank_paid_fen.is_not(None)
            ),
            PayrollBatch,
            jurisdiction=jurisdiction,
        )
    ).all()
    shares: dict[str, dict[str, tuple[int, int]]] = {}
    for township, status, count, fen in by_status:
        shares.setdefault(township, {})[status] = (count, fen)
    return [
        Figures(
            township=township,
            households=sum(c for c, _ in share.values()),
            total=_yuan(sum(f for _, f in share.values())),
            paid=_pair(share.get(ItemStatus.paid)),
            refused=_pair(share.get(ItemStatus.refused)),
            pending=_pair(share.get(ItemStatus.pending), share.get(ItemStatus.reissuing)),
            difference=_yuan(
                sum(
                    b.bank_paid_fen - b.items_paid_fen
                    for b in batches
                    if b.township == township and b.reconciled_at is None
                )
            ),
            unreconciled_batches=[
                b.batch_key for b in batches if b.township == township and b.reconciled_at is None
            ],
        )
        for township, share in sorted(shares.items())
    ]


def _yuan(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def _pair(*counts: tuple[int, int] | None) -> tuple[int, Decimal]:
    present = [c for c in counts if c]
    return sum(c for c, _ in present), _yuan(sum(f for _, f in present))
