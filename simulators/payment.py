"""Payment system (支付系统): idempotent transfers to a beneficiary."""

from decimal import Decimal
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, BeforeValidator, Field

from simulators.faults import Faults
from simulators.storage import Store, utc_now

IdNumber = Annotated[str, Field(pattern=r"^(\d{17}[\dXx]|\d{15})$")]


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("amount must be a decimal string")
    return value


Money = Annotated[Decimal, BeforeValidator(_text), Field(gt=0, max_digits=14, decimal_places=2)]


class TransferIn(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    case_no: str = Field(min_length=1)
    payee_name: str = Field(min_length=1)
    payee_id_number: IdNumber
    amount: Money
    purpose: str


def mask(id_number: str) -> str:
    """Keep the first 6 and last 4 characters of an id number (身份证号脱敏)."""
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def router(store: Store, faults: Faults) -> APIRouter:
    api = APIRouter(prefix="/payment", tags=["payment"])

    @api.post("/transfers", status_code=201)
    def create_transfer(transfer: TransferIn, response: Response) -> dict[str, Any]:
        faults.check("payment")
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
        stored, created = store.put_once(
            "payment", transfer.idempotency_key, record["transfer_id"], record
        )
        if not created:
            same = ("case_no", "payee_name", "payee_id_number", "amount")
            if any(stored[field] != record[field] for field in same):
                raise HTTPException(409, "idempotency_key already used for a different transfer")
            response.status_code = 200
        return stored

    @api.get("/transfers")
    def list_transfers(case_no: str | None = None) -> list[dict[str, Any]]:
        return store.find("payment", case_no=case_no)

    @api.get("/transfers/{transfer_id}")
    def get_transfer(transfer_id: str) -> dict[str, Any]:
        transfer = store.get("payment", transfer_id)
        if transfer is None:
            raise HTTPException(404, "transfer not found")
        return transfer

    return api
