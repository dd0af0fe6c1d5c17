"""Activities of a new 低保 standard: a page of the register at a time given its new amounts,
and each household texted its amount once (the SMS system takes a key once)."""

from datetime import UTC, datetime

import httpx
import structlog
from temporalio import activity

from domain.contracts import Activity, StandardPage, StandardPageDone
from domain.corrections import standard_text
from domain.months import Month
from domain.policy import Policy
from domain.sealing import KeyRing
from store import standards
from store.db import Database

log = structlog.get_logger()


class StandardActivities:
    """``http``: the worker's client of the external systems (closed with them)."""

    def __init__(
        self,
        *,
        database_url: str,
        sms_url: str,
        policy: Policy,
        ring: KeyRing,
        http: httpx.AsyncClient,
    ) -> None:
        self.db = Database(database_url)
        self.sms_url = sms_url.rstrip("/")
        self.policy, self.ring, self.http = policy, ring, http

    @activity.defn(name=Activity.apply_standard)
    async def apply_standard(self, page: StandardPage) -> StandardPageDone:
        """The page's households under the new standard (one transaction), then their texts."""
        told, last = await self.db.write(
            standards.apply_page, from_month=page.from_month, after=page.after, size=page.size,
            policy=self.policy, ring=self.ring, now=datetime.now(UTC),
        )  # fmt: skip
        texts = [
            {
                "idempotency_key": f"standard-{page.from_month}:{t.recipient_no}",
                "phone": t.phone,
                "template": "standard_changed",
                "text": standard_text(t.recipient_no, Month.parse(t.month), t.amount),
            }
            for t in told
        ]
        if texts:
            answer = await self.http.post(f"{self.sms_url}/batches", json={"messages": texts})
            answer.raise_for_status()
        log.info("standard.page", from_month=page.from_month, households=len(told), last=last)
        return StandardPageDone(applied=len(told), last=last)

    @activity.defn(name=Activity.close_standard_change)
    async def close_standard_change(self, from_month: str) -> int:
        return await self.db.write(
            standards.close_change, from_month=from_month, now=datetime.now(UTC)
        )
