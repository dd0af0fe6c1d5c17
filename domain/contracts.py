"""The activities a workflow may call, by name, with the message each takes and returns.

Workflows import only ``domain``; naming activities here keeps that true while the worker
registers the functions under the same names.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.cases import Person


class Activity:
    record_transition = "record_transition"
    compute_deadlines = "compute_deadlines"
    verify_household = "verify_household"
    notify_applicant = "notify_applicant"
    notify_staff = "notify_staff"
    make_payment = "make_payment"


@dataclass(frozen=True)
class VerificationRequest:
    case_no: str
    members: list[Person]


@dataclass(frozen=True)
class ApplicantNotice:
    """An SMS to the applicant; ``key`` makes a resend a no-op (one notice per purpose)."""

    case_no: str
    key: str
    phone: str
    template: str  # accepted | approved | refused
    text: str


@dataclass(frozen=True)
class StaffNotice:
    """A deadline reminder or breach for the case's caseworker and the district (站内通知)."""

    case_no: str
    key: str
    kind: str  # survey_overdue | decision_approaching | decision_overdue | refusal_notice_overdue
    message: str
    assignee: str
    township: str
    at: datetime


@dataclass(frozen=True)
class PaymentOrder:
    """A transfer to the applicant. ``key`` is derived from the case, never from a run."""

    case_no: str
    key: str
    payee_name: str
    payee_id_number: str
    amount: Decimal
    purpose: str


@dataclass(frozen=True)
class PaymentReceipt:
    transfer_id: str
    amount: Decimal
