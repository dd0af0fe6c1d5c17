"""Activities that call the external systems: verification platform, SMS, payments.

A 4xx answer is final (the request itself is wrong) and fails the activity for good; anything
else (5xx, time-outs, refused connections) is raised as-is and retried by Temporal. Every call
carries an idempotency key derived from the case, so a retry never acts twice.
"""

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.cases import VerificationReport
from domain.contracts import (
    Activity,
    ApplicantNotice,
    PaymentOrder,
    PaymentReceipt,
    VerificationRequest,
)
from domain.halting import BankTransfer
from domain.identity import mask_phone

log = structlog.get_logger()


class ExternalActivities:
    def __init__(
        self, *, payment_url: str, sms_url: str, verification_url: str, timeout: float = 10.0
    ) -> None:
        self.payment_url = payment_url.rstrip("/")
        self.sms_url = sms_url.rstrip("/")
        self.verification_url = verification_url.rstrip("/")
        self.http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    @activity.defn(name=Activity.verify_household)
    async def verify_household(self, request: VerificationRequest) -> VerificationReport:
        """家庭经济状况核对: ask the verification platform for the household's report."""
        body = await self._post(
            f"{self.verification_url}/reports",
            {
                "request_id": request.request_id,
                "case_no": request.case_no,
                "members": [{"name": m.name, "id_number": m.id_number} for m in request.members],
            },
        )
        log.info("case.verified", case_no=request.case_no, report_id=body["report_id"])
        return VerificationReport(
            report_id=body["report_id"],
            household_monthly_income=Decimal(body["household_monthly_income"]),
            savings=Decimal(body["savings"]),
            vehicles=body["vehicles"],
            properties=body["properties"],
            flags=body.get("flags", []),
        )

    @activity.defn(name=Activity.notify_applicant)
    async def notify_applicant(self, notice: ApplicantNotice) -> str:
        body = await self._post(
            f"{self.sms_url}/messages",
            {
                "idempotency_key": notice.key,
                "phone": notice.phone,
                "template": notice.template,
                "text": notice.text,
            },
        )
        log.info(
            "case.applicant_notified",
            case_no=notice.case_no,
            template=notice.template,
            phone=mask_phone(notice.phone),
        )
        return body["message_id"]

    @activity.defn(name=Activity.make_payment)
    async def make_payment(self, order: PaymentOrder) -> PaymentReceipt:
        body = await self._post(
            f"{self.payment_url}/transfers",
            {
                "idempotency_key": order.key,
                "case_no": order.case_no,
                "payee_name": order.payee_name,
                "payee_id_number": order.payee_id_number,
                "amount": str(order.amount),
                "purpose": order.purpose,
                **({"account": asdict(order.account)} if order.account else {}),
                **(
                    {"recipient_no": order.recipient_no, "month": order.month}
                    if order.recipient_no
                    else {}
                ),  # fmt: skip
            },
        )
        log.info(
            "case.paid",
            case_no=order.case_no,
            transfer_id=body["transfer_id"],
            amount=str(order.amount),
        )
        return PaymentReceipt(transfer_id=body["transfer_id"], amount=Decimal(body["amount"]))

    async def transfers_under(self, key: str) -> list[BankTransfer]:
        """What the payment system paid under ``key`` (nothing, or the one transfer): asked
        when a halted case is reconciled. Not an activity: the worker's watch calls it."""
        response = await self.http.get(
            f"{self.payment_url}/transfers", params={"idempotency_key": key}
        )
        response.raise_for_status()
        return [
            BankTransfer(
                key=key,
                transfer_id=t["transfer_id"],
                amount=Decimal(t["amount"]),
                account=(t.get("account") or {}).get("account_no_masked", ""),
                at=datetime.fromisoformat(t["created_at"]),
            )
            for t in response.json()
            if t.get("status") == "settled"
        ]

    async def _post(self, url: str, payload: dict) -> dict:
        response = await self.http.post(url, json=payload)
        if 400 <= response.status_code < 500:
            raise ApplicationError(
                f"refused ({response.status_code}): {_why(response)}",
                type="ExternalRejected",
                non_retryable=True,
            )
        response.raise_for_status()
        return response.json()


def _why(response: httpx.Response) -> str:
    """The external system's own words, short: they go on the case's record."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("detail", body) if isinstance(body, dict) else body)[:300]
