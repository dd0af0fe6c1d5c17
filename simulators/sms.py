"""SMS platform (短信平台): idempotent text messages."""

from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from simulators.faults import Faults
from simulators.storage import Store, utc_now

Phone = Annotated[str, Field(pattern=r"^1\d{10}$")]


class MessageIn(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    phone: Phone
    template: str = Field(min_length=1)
    text: str = Field(min_length=1)


class BatchIn(BaseModel):
    messages: list[MessageIn] = Field(min_length=1, max_length=20_000)


def router(store: Store, faults: Faults) -> APIRouter:
    api = APIRouter(prefix="/sms", tags=["sms"])

    @api.post("/messages", status_code=201)
    def send_message(message: MessageIn, response: Response) -> dict[str, Any]:
        faults.check("sms")
        record = {
            "message_id": f"sms_{uuid4().hex}",
            **message.model_dump(),
            "status": "sent",
            "created_at": utc_now(),
        }
        stored, created = store.put_once(
            "sms", message.idempotency_key, record["message_id"], record
        )
        if not created:
            response.status_code = 200
        return stored

    @api.post("/batches", status_code=201)
    def send_batch(batch: BatchIn) -> dict[str, Any]:
        """Many messages at once (a month's payment notices): each once per key."""
        faults.check("sms")
        now = utc_now()
        sent = store.put_many(
            "sms",
            [
                (m.idempotency_key, (mid := f"sms_{uuid4().hex}"), {
                    "message_id": mid, **m.model_dump(), "status": "sent", "created_at": now,
                })
                for m in batch.messages
            ],
        )  # fmt: skip
        return {"sent": len(sent), "message_ids": [m["message_id"] for m in sent]}

    @api.get("/messages")
    def list_messages(
        phone: str | None = None, template: str | None = None
    ) -> list[dict[str, Any]]:
        return store.find("sms", phone=phone, template=template)

    return api
