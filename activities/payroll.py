"""Activities of the monthly payroll: the records (items, batches, totals) and the bank's batch
interface (代发). Each is idempotent: a batch is sent under its key (the bank answers a second
send with the batch it took), an answer recorded twice changes nothing, a family is texted once
per month and a refusal put before its caseworker once."""

from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.contracts import (
    Activity,
    BatchOutcome,
    BatchRef,
    PaymentOrder,
    PayrollMonth,
    Reissue,
    ReissueOutcome,
    StaffNotice,
    TownshipMonth,
)
from domain.months import Month
from domain.notices import monthly_paid_text
from domain.payroll import ItemStatus
from domain.sealing import KeyRing
from store import payroll
from store.db import Database
from store.recipients import open_payee
from store.records import record_staff_notice

log = structlog.get_logger()

BANK_PAGE = 5_000
"""Lines read per request of a batch's results."""


class PayrollActivities:
    """``http``: the worker's client of the external systems (closed with them)."""

    def __init__(
        self,
        *,
        database_url: str,
        payment_url: str,
        sms_url: str,
        ring: KeyRing,
        http: httpx.AsyncClient,
    ) -> None:
        self.db = Database(database_url)
        self.payment_url, self.sms_url = payment_url.rstrip("/"), sms_url.rstrip("/")
        self.ring, self.http = ring, http

    @activity.defn(name=Activity.open_payroll)
    async def open_payroll(self, opening: PayrollMonth) -> list[str]:
        """The month's payroll is running; the townships it pays."""
        return await self.db.write(
            payroll.open_payroll,
            month=Month.parse(opening.month),
            by=opening.started_by,
            at=datetime.now(UTC),
        )

    @activity.defn(name=Activity.make_payroll_items)
    async def make_payroll_items(self, share: TownshipMonth) -> list[int]:
        """The township's items for the month, in batches; the batches still to send or settle."""
        parts = await self.db.write(
            payroll.make_items,
            month=Month.parse(share.month),
            township=share.township,
            batch_size=share.batch_size,
        )
        log.info("payroll.items", month=share.month, township=share.township, batches=len(parts))
        return parts

    @activity.defn(name=Activity.send_batch)
    async def send_batch(self, ref: BatchRef) -> str:
        """The batch to the bank under its key (sent again, the bank answers with the batch it
        took); the bank's batch id."""
        month = Month.parse(ref.month)
        batch, lines = await self.db.read(
            payroll.batch_of, month=month, township=ref.township, part=ref.part, ring=self.ring
        )
        if batch.bank_batch_id:
            return batch.bank_batch_id
        body = {
            "batch_key": batch.batch_key,
            "items": [asdict(line) | {"amount": f"{line.amount:.2f}"} for line in lines],
        }
        answer = await self.http.post(f"{self.payment_url}/batches", json=body)
        if 400 <= answer.status_code < 500:  # refused whole: a fault to mend, not to retry
            raise ApplicationError(
                f"the bank refused batch {batch.batch_key} ({answer.status_code}): "
                f"{answer.text[:300]}",
                type="ExternalRejected",
                non_retryable=True,
            )
        answer.raise_for_status()  # the bank is down: retried, under the same key
        batch_id = answer.json()["batch_id"]
        accounts = {line.item_key: f"****{line.account['account_no'][-4:]}" for line in lines}
        await self.db.write(
            payroll.batch_sent, month=month, township=ref.township, part=ref.part,
            bank_batch_id=batch_id, accounts=accounts,
        )  # fmt: skip
        log.info("payroll.batch_sent", batch=batch.batch_key, lines=len(lines), bank=batch_id)
        return batch_id

    @activity.defn(name=Activity.settle_batch)
    async def settle_batch(self, ref: BatchRef) -> BatchOutcome:
        """Each line's outcome as the bank decided it, then the batch's totals against the
        register's, to the fen."""
        month = Month.parse(ref.month)
        batch, _ = await self.db.read(
            payroll.batch_of, month=month, township=ref.township, part=ref.part, ring=self.ring
        )
        offset, results, summary = 0, [], {}
        while True:
            answer = await self.http.get(
                f"{self.payment_url}/batches/{batch.bank_batch_id}",
                params={"offset": offset, "limit": BANK_PAGE},
            )
            answer.raise_for_status()
            summary = answer.json()
            lines = summary["lines"]
            results += [
                payroll.LineResult(
                    line["item_key"], line["status"], line["transfer_id"], line["reason"] or ""
                )
                for line in lines
            ]
            offset += len(lines)
            if not lines or offset >= summary["items"]:
                break
        now = datetime.now(UTC)
        await self.db.write(payroll.record_results, results=results, at=now)
        totals = await self.db.write(
            payroll.reconcile_batch, month=month, township=ref.township, part=ref.part,
            bank_paid_count=summary["paid_count"],
            bank_paid_total=Decimal(summary["paid_total"]), at=now,
        )  # fmt: skip
        if not totals.reconciled:
            log.warning(
                "payroll.not_reconciled", batch=totals.batch, difference=str(totals.difference)
            )
        return BatchOutcome(
            paid=summary["paid_count"],
            refused=summary["refused_count"],
            reconciled=totals.reconciled,
            difference=totals.difference,
        )

    @activity.defn(name=Activity.tell_batch)
    async def tell_batch(self, ref: BatchRef) -> None:
        """Each family paid gets its SMS (amount and month); each refusal goes before the
        township's caseworkers with the bank's reason."""
        month = Month.parse(ref.month)
        decided = await self.db.read(
            _decided, month=month, township=ref.township, part=ref.part, ring=self.ring
        )
        texts = [
            {
                "idempotency_key": f"{item.key}:paid",
                "phone": phone,
                "template": "monthly_paid",
                "text": monthly_paid_text(item.recipient_no, item.month, item.amount, masked),
            }
            for item, phone, masked in decided
            if item.status == ItemStatus.paid
        ]
        if texts:
            answer = await self.http.post(f"{self.sms_url}/batches", json={"messages": texts})
            answer.raise_for_status()
        refused = [item for item, _, _ in decided if item.status == ItemStatus.refused]
        await self.db.write(_told, refused=refused, keys=[i.key for i, _, _ in decided])

    @activity.defn(name=Activity.reissue_order)
    async def reissue_order(self, reissue: Reissue) -> PaymentOrder | None:
        return await self.db.read(payroll.reissue_order, reissue=reissue, ring=self.ring)

    @activity.defn(name=Activity.record_reissue)
    async def record_reissue(self, outcome: ReissueOutcome) -> None:
        """The re-issue's outcome on the item; the family texted, or the caseworkers told."""
        now = datetime.now(UTC)
        decided = await self.db.write(payroll.record_reissue, outcome=outcome, at=now)
        if decided is None:
            return
        item, household = decided
        if item.status == ItemStatus.refused:
            await self.db.write(_told, refused=[item], keys=[item.key])
            return
        payee = await self.db.read(lambda _session: open_payee(household, ring=self.ring))
        text = monthly_paid_text(item.recipient_no, item.month, item.amount, item.account)
        message = {"idempotency_key": f"{outcome.key}:paid", "phone": payee.phone,
                   "template": "monthly_paid", "text": text}  # fmt: skip
        answer = await self.http.post(f"{self.sms_url}/messages", json=message)
        answer.raise_for_status()

    @activity.defn(name=Activity.close_payroll)
    async def close_payroll(self, month: str) -> None:
        await self.db.write(payroll.close_payroll, month=Month.parse(month), at=datetime.now(UTC))


def _decided(session, *, month: Month, township: str, part: int, ring: KeyRing) -> list[tuple]:
    """Decided items not told yet, with the family's phone and masked account."""
    return [
        (item, payee.phone, payee.account.masked)
        for item, household in payroll.items_to_tell(
            session, month=month, township=township, part=part
        )
        for payee in [open_payee(household, ring=ring)]
    ]


def _told(session, *, refused: list, keys: list[str]) -> None:
    now = datetime.now(UTC)
    for item in refused:
        record_staff_notice(
            session,
            StaffNotice(
                case_no=item.recipient_no,
                key=f"payroll_refused:{item.key}",
                kind="payroll_refused",
                message=(
                    f"the bank refused the {item.month} payment of household {item.recipient_no} "
                    f"(¥{item.amount}): {item.reason}; record its corrected bank account"
                ),
                assignee="",
                township=item.township,
                at=now,
            ),
        )
    payroll.told(session, keys=keys)
