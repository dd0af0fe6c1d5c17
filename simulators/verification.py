"""Economic-status verification platform (家庭经济状况核对平台): household checks.

Figures are derived from a SHA-256 of the household's sorted id numbers, so the same
household always gets the same report. By default a household's figures are clean (they
contradict no survey): a little income (under ¥100 a member a month), savings under ¥20,000,
no vehicle, at most one property. A household with a *marked* member — an ID number whose
sequence digits (顺序码, the 15th–17th characters) are 9xx — gets a registered vehicle and
savings above ¥30,000 (the default ``verified_savings_limit``), so its case shows findings.
"""

import hashlib
from decimal import Decimal
from typing import Any
from uuid import uuid4

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from simulators.faults import Faults
from simulators.payment import IdNumber
from simulators.storage import Store, utc_now

INCOME_CAP_PER_MEMBER = 10_000  # cents: ¥100 a member a month
SAVINGS_CAP = 2_000_000  # cents: ¥20,000
MARKED_SAVINGS_FLOOR = 3_000_001  # cents: above ¥30,000
MARKED_SAVINGS_SPAN = 5_000_000


class Member(BaseModel):
    name: str = Field(min_length=1)
    id_number: IdNumber


class ReportIn(BaseModel):
    request_id: str = Field(min_length=1, max_length=200)
    case_no: str = Field(min_length=1)
    members: list[Member] = Field(min_length=1)


def yuan(cents: int) -> str:
    return str(Decimal(cents).scaleb(-2))


def marked(id_number: str) -> bool:
    """An ID number whose sequence digits are 9xx: its household's report has findings."""
    return id_number[14:15] == "9"


def assess(id_numbers: list[str]) -> dict[str, Any]:
    """The deterministic findings (核对结果) for a household."""
    digest = hashlib.sha256(",".join(sorted(n.upper() for n in id_numbers)).encode()).digest()
    income = int.from_bytes(digest[0:4]) % (INCOME_CAP_PER_MEMBER * len(id_numbers) + 1)
    savings = int.from_bytes(digest[4:8]) % (SAVINGS_CAP + 1)
    vehicles, properties = 0, digest[9] % 2
    if any(marked(n) for n in id_numbers):
        savings = MARKED_SAVINGS_FLOOR + int.from_bytes(digest[4:8]) % MARKED_SAVINGS_SPAN
        vehicles = 1
    flags = ["vehicle_registered"] * vehicles + ["multiple_properties"] * (properties > 1)
    return {
        "household_monthly_income": yuan(income),
        "savings": yuan(savings),
        "vehicles": vehicles,
        "properties": properties,
        "flags": flags,
    }


def router(store: Store, faults: Faults) -> APIRouter:
    api = APIRouter(prefix="/verification", tags=["verification"])

    @api.post("/reports", status_code=201)
    def create_report(request: ReportIn, response: Response) -> dict[str, Any]:
        faults.check("verification")
        record = {
            "report_id": f"rp_{uuid4().hex}",
            "request_id": request.request_id,
            "case_no": request.case_no,
            **assess([member.id_number for member in request.members]),
            "checked_at": utc_now(),
        }
        stored, created = store.put_once(
            "verification", request.request_id, record["report_id"], record
        )
        if not created:
            response.status_code = 200
        return stored

    return api
