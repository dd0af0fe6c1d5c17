"""The lists the API pages through, each within the reader's jurisdiction
(``store.jurisdiction``) and through the one pager (``store.pages``): the cases of each kind,
the staff notifications, the register of recipient households, a month's payroll items."""

from typing import Any

from sqlmodel import Session, select

from store.jurisdiction import TABLES, CaseKindName, within
from store.pages import Paged, paged
from store.tables import (
    CaseRecord,
    EmergencyRecord,
    PayrollItem,
    RecipientRecord,
    StaffNotification,
)

CASE_ORDER: dict[CaseKindName, tuple[Any, ...]] = {
    "application": (CaseRecord.decision_due, CaseRecord.case_no),
    "emergency": (EmergencyRecord.pay_by, EmergencyRecord.case_no),
}
"""The most pressing first: an application's decision due, an emergency's payout due."""


def cases(
    session: Session,
    *,
    kind: CaseKindName,
    jurisdiction: str,
    equal: dict[str, Any],
    page: int,
    page_size: int,
) -> Paged[CaseRecord | EmergencyRecord]:
    """A page of the records of one kind of case, each column named in ``equal`` holding its
    value (a None value: any)."""
    table = TABLES[kind]
    query = within(select(table), table, jurisdiction=jurisdiction)
    for column, value in equal.items():
        if value is not None:
            query = query.where(getattr(table, column) == value)
    return paged(session, query, order_by=CASE_ORDER[kind], page=page, page_size=page_size)


def notifications(
    session: Session, *, jurisdiction: str, assignee: str | None, limit: int
) -> list[StaffNotification]:
    """The newest notices of the jurisdiction, of one assignee's cases if named."""
    query = within(select(StaffNotification), StaffNotification, jurisdiction=jurisdiction)
    if assignee is not None:
        query = query.where(StaffNotification.assignee == assignee)
    newest = (StaffNotification.at.desc(), StaffNotification.key)
    return paged(session, query, order_by=newest, page=1, page_size=limit).items


def recipients(
    session: Session, *, jurisdiction: str, equal: dict[str, Any], page: int, page_size: int
) -> Paged[RecipientRecord]:
    """A page of the register: the households of the jurisdiction, by number."""
    query = within(select(RecipientRecord), RecipientRecord, jurisdiction=jurisdiction)
    for column, value in equal.items():
        if value is not None:
            query = query.where(getattr(RecipientRecord, column) == value)
    return paged(
        session, query, order_by=(RecipientRecord.recipient_no,), page=page, page_size=page_size
    )


def payroll_items(
    session: Session,
    *,
    month: str,
    jurisdiction: str,
    township: str | None,
    status: str | None,
    page: int,
    page_size: int,
) -> Paged[tuple[PayrollItem, RecipientRecord]]:
    """A page of a month's items of the jurisdiction, each with its household, by number."""
    query = within(
        select(PayrollItem, RecipientRecord)
        .join(RecipientRecord, RecipientRecord.recipient_no == PayrollItem.recipient_no)
        .where(PayrollItem.month == month),
        RecipientRecord,
        jurisdiction=jurisdiction,
    )
    if township is not None:
        query = query.where(PayrollItem.township == township)
    if status is not None:
        query = query.where(PayrollItem.status == status)
    return paged(
        session, query, order_by=(PayrollItem.recipient_no,), page=page, page_size=page_size
    )
