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

from decimal import Decimal
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Response
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


def mask(id_number: str) -> str:
    """Keep the first 6 and last 4 characters of an id number (身份证号脱敏)."""
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_account(account_no: str) -> str:
    return "****" + account_no[-4:]


def refusal(transfer: TransferIn) -> str | None:
    """Why the bank refuses ``transfer`` for good (``"code: explanation"``), or None."""
    account = transfer.account
    if account is None:
        return None
    if account.account_no.startswith(CLOSED_ACCOUNT_PREFIX):
        return f"account_closed: account {mask_account(account.account_no)} is closed"
    if account.holder != transfer.payee_name.strip():
        return "name_mismatch: the account holder is not the payee"
    return None


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
        case_no: str | None = None, status: str | None = None, idempotency_key: str | None = None
    ) -> list[dict[str, Any]]:
        """Transfers made, oldest first; by ``idempotency_key``, what was paid under a key (a
        caller that lost the answer asks so before deciding anything)."""
        return store.find(
            "payment", case_no=case_no, status=status, idempotency_key=idempotency_key
        )

    @api.get("/transfers/{transfer_id}")
    def get_transfer(transfer_id: str) -> dict[str, Any]:
        transfer = store.get("payment", transfer_id)
        if transfer is None:
            raise HTTPException(404, "transfer not found")
        return transfer

    return api
