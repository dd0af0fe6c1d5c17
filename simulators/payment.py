"""Payment system (支付系统): idempotent transfers to a beneficiary.

A transfer may name the family's bank account (社会化发放, the 惠民惠农 one-card account). The
bank then refuses it for good with 422, storing nothing, and a ``detail`` that starts with a
reason code:

- ``account_closed: …`` when the account is closed: in this simulator, an ``account_no``
  starting with ``000``;
- ``name_mismatch: …`` when the holder is not the payee (names compared without surrounding
  whitespace).

Only the last 4 digits of an account number are kept (``account_no_masked``).
"""

import hashlib
from decimal import Decimal
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, BeforeValidator, Field, StringConstraints

from simulators.faults import Faults
from simulators.storage import Store, utc_now

IdNumber = Annotated[str, Field(pattern=r"^(\d{17}[\dXx]|\d{15})$")]


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("amount must be a decimal string")
    return value


Money = Annotated[Decimal, BeforeValidator(_text), Field(gt=0, max_digits=14, decimal_places=2)]


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
CLOSED_ACCOUNT_PREFIX = "000"


class AccountIn(BaseModel):
    bank: Name
    account_no: str = Field(pattern=r"^[0-9]{8,30}$")
    holder: Name


class TransferIn(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    case_no: str = Field(min_length=1)
    payee_name: str = Field(min_length=1)
    payee_id_number: IdNumber
    amount: Money
    purpose: str
    account: AccountIn | None = None
    recipient_no: str | None = Field(default=None, max_length=40)
    """A recipient household's monthly payment (with its ``month``), listed under it."""
    month: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


def mask(id_number: str) -> str:
    """Keep the first 6 and last 4 characters of an id number (身份证号脱敏)."""
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_account(account_no: str) -> str:
    return "****" + account_no[-4:]


def refusal(transfer: "TransferIn | BatchItemIn") -> str | None:
    """Why the bank refuses ``transfer`` for good (``"code: explanation"``), or None."""
    account = transfer.account
    if account is None:
        return None
    if account.account_no.startswith(CLOSED_ACCOUNT_PREFIX):
        return f"account_closed: account {mask_account(account.account_no)} is closed"
    if account.holder != transfer.payee_name.strip():
        return "name_mismatch: the account holder is not the payee"
    return None


MAX_BATCH_ITEMS = 20_000


class BatchItemIn(BaseModel):
    """One line of a 代发 batch: a household's payment for a month."""

    item_key: str = Field(min_length=1, max_length=200)
    recipient_no: str = Field(min_length=1, max_length=40)
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    payee_name: str = Field(min_length=1, max_length=50)
    payee_id_number: IdNumber
    amount: Money
    purpose: str = Field(max_length=100)
    account: AccountIn


class BatchIn(BaseModel):
    """A 代发 batch (代发文件): its key makes a resubmission return the batch, never a second."""

    batch_key: str = Field(min_length=1, max_length=200)
    items: list[BatchItemIn] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


def router(store: Store, faults: Faults) -> APIRouter:
    api = APIRouter(prefix="/payment", tags=["payment"])

    def pay(transfer: TransferIn) -> tuple[dict[str, Any], bool]:
        """Store the transfer once per key; return the stored one and whether it is new."""
        record = {
            "transfer_id": f"tr_{uuid4().hex}",
            "idempotency_key": transfer.idempotency_key,
            "case_no": transfer.case_no,
            "payee_name": transfer.payee_name,
            "payee_id_number": mask(transfer.payee_id_number),
            "amount": f"{transfer.amount:.2f}",
            "purpose": transfer.purpose,
            "status": "settled",
            "created_at": utc_now(),
            **(
                {"recipient_no": transfer.recipient_no, "month": transfer.month}
                if transfer.recipient_no
                else {}
            ),  # fmt: skip
        }
        if transfer.account:
            # Two accounts that share their last 4 digits look the same to a replay: the
            # price of never keeping the number (a plain hash of it is easily reversed).
            record["account"] = {
                "bank": transfer.account.bank,
                "account_no_masked": mask_account(transfer.account.account_no),
                "holder": transfer.account.holder,
            }
        # A refusal has no effect, so a retry under the same key is judged afresh; but a key
        # that already paid must answer with that payment (or 409), never with a refusal.
        if not store.find("payment", idempotency_key=transfer.idempotency_key):
            reason = refusal(transfer)
            if reason:
                raise HTTPException(422, reason)
        stored, created = store.put_once(
            "payment", transfer.idempotency_key, record["transfer_id"], record
        )
        same = ("case_no", "payee_name", "payee_id_number", "amount", "account")
        if not created and any(stored.get(field) != record.get(field) for field in same):
            raise HTTPException(409, "idempotency_key already used for a different transfer")
        return stored, created

    @api.post("/transfers", status_code=201)
    async def create_transfer(transfer: TransferIn, response: Response) -> dict[str, Any]:
        faults.check("payment")
        # The store blocks (sqlite behind a thread lock): keep it off the event loop.
        stored, created = await run_in_threadpool(pay, transfer)
        if not created:
            response.status_code = 200
        # Stored first, answered late: the caller may die before it hears of the payment.
        await faults.answer_late("payment")
        return stored

    @api.get("/transfers")
    def list_transfers(
        case_no: str | None = None,
        status: str | None = None,
        idempotency_key: str | None = None,
        recipient_no: str | None = None,
    ) -> list[dict[str, Any]]:
        """Transfers made, oldest first; by ``idempotency_key``, what was paid under a key (a
        caller that lost the answer asks so before deciding anything); by ``recipient_no``,
        every payment to a household, single transfers and batch lines alike."""
        return store.find(
            "payment",
            case_no=case_no,
            status=status,
            idempotency_key=idempotency_key,
            recipient_no=recipient_no,
        )

    def submit(batch: BatchIn) -> tuple[dict[str, Any], bool]:
        """Decide every line (paid, or refused for good with its reason code) and store the
        batch; a batch key already used answers with that batch (409 if its lines differ)."""
        keys = [item.item_key for item in batch.items]
        if len(set(keys)) != len(keys):
            raise HTTPException(422, "item_key repeats within the batch")
        if known := store.by_key("payment_batch", batch.batch_key):
            same = known["item_keys_digest"] == _digest(keys) and known["total"] == _total(batch)
            if not same:
                raise HTTPException(409, "batch_key already used for a different batch")
            return known, False
        batch_id, now = f"bt_{uuid4().hex}", utc_now()
        paying = [item for item in batch.items if refusal(item) is None]
        lines = [_line(item, batch_id, now) for item in paying]
        made = store.put_many(
            "payment", [(line["idempotency_key"], line["transfer_id"], line) for line in lines]
        )
        paid = {line["idempotency_key"]: line for line in made}
        results = []
        for item in batch.items:
            line = paid.get(item.item_key)
            results.append(
                {
                    "item_key": item.item_key,
                    "recipient_no": item.recipient_no,
                    "month": item.month,
                    "amount": f"{item.amount:.2f}",
                    "status": "paid" if line else "refused",
                    "transfer_id": line["transfer_id"] if line else None,
                    "reason": "" if line else refusal(item),
                }
            )
        store.put_many(
            "payment_batch_item",
            [(f"{batch_id}:{n:07d}", f"{batch_id}:{n}", r) for n, r in enumerate(results)],
        )
        summary = {
            "batch_id": batch_id,
            "batch_key": batch.batch_key,
            "status": "completed",
            "items": len(results),
            "total": _total(batch),
            "paid_count": sum(r["status"] == "paid" for r in results),
            "paid_total": _sum(r["amount"] for r in results if r["status"] == "paid"),
            "refused_count": sum(r["status"] == "refused" for r in results),
            "refused_total": _sum(r["amount"] for r in results if r["status"] == "refused"),
            "item_keys_digest": _digest(keys),
            "created_at": now,
        }
        stored, created = store.put_once("payment_batch", batch.batch_key, batch_id, summary)
        return stored, created

    @api.post("/batches", status_code=202)
    async def submit_batch(batch: BatchIn, response: Response) -> dict[str, Any]:
        """代发: the bank takes the batch and decides each line; read the lines' results with
        ``GET /payment/batches/{batch_id}``."""
        faults.check("payment")
        stored, created = await run_in_threadpool(submit, batch)
        if not created:
            response.status_code = 200
        await faults.answer_late("payment")  # taken, answered late: the caller may die first
        return stored

    @api.get("/batches")
    def find_batch(batch_key: str) -> list[dict[str, Any]]:
        """The batch taken under ``batch_key`` (none, or the one)."""
        found = store.by_key("payment_batch", batch_key)
        return [found] if found else []

    @api.get("/batches/{batch_id}")
    def read_batch(
        batch_id: str,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_BATCH_ITEMS)] = 1000,
    ) -> dict[str, Any]:
        """The batch's totals and a page of its lines' results, in the order submitted."""
        summary = store.get("payment_batch", batch_id)
        if summary is None:
            raise HTTPException(404, "batch not found")
        lines = store.page("payment_batch_item", f"{batch_id}:", offset=offset, limit=limit)
        return summary | {"offset": offset, "lines": lines}

    @api.get("/transfers/{transfer_id}")
    def get_transfer(transfer_id: str) -> dict[str, Any]:
        transfer = store.get("payment", transfer_id)
        if transfer is None:
            raise HTTPException(404, "transfer not found")
        return transfer

    return api


def _line(item: BatchItemIn, batch_id: str, now: str) -> dict[str, Any]:
    """A paid batch line, as the bank's record of a transfer."""
    return {
        "transfer_id": f"tr_{uuid4().hex}",
        "idempotency_key": item.item_key,
        "case_no": None,
        "recipient_no": item.recipient_no,
        "month": item.month,
        "payee_name": item.payee_name,
        "payee_id_number": mask(item.payee_id_number),
        "amount": f"{item.amount:.2f}",
        "purpose": item.purpose,
        "status": "settled",
        "batch_id": batch_id,
        "account": {
            "bank": item.account.bank,
            "account_no_masked": mask_account(item.account.account_no),
            "holder": item.account.holder,
        },
        "created_at": now,
    }


def _total(batch: BatchIn) -> str:
    return _sum(f"{item.amount:.2f}" for item in batch.items)


def _sum(amounts) -> str:
    return f"{sum((Decimal(a) for a in amounts), Decimal(0)):.2f}"


def _digest(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()
