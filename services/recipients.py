"""The register of recipient households behind the routes: its list, one household read with
its members (numbers as the reader's role may see them), its payments by month and its trail,
and the corrected bank account that re-issues the months the bank refused."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from domain.cases import Actor, BankAccount
from domain.privacy import for_role, id_number_for, phone_for
from domain.recipients import RecipientView
from domain.reviews import ReviewView
from domain.sealing import KeyRing
from services.cases import Family
from store import lists, recipients
from store.db import Database
from store.pages import Paged
from store.payroll import payments_of
from store.records import audit_trail, start_of
from store.review_rows import review_view
from store.tables import AuditEntryRecord, CaseRecord, ReviewRecord
from workflows.client import start_reissue

log = structlog.get_logger()


@dataclass(frozen=True)
class Payment:
    """A month's payment of the household, as the register shows it."""

    month: str
    amount: Any
    status: str
    account: str
    transfer_id: str | None
    reason: str
    decided_at: datetime | None


@dataclass(frozen=True)
class RecipientRead:
    view: RecipientView
    family: Family | None
    payments: list[Payment]
    review: ReviewView | None = None
    """The review under way."""


async def listing(
    *, db: Database, user: Actor, equal: dict[str, Any], page: int, page_size: int
) -> Paged[RecipientView]:
    """A page of the households of the user's jurisdiction, each column named in ``equal``
    holding its value (None: any)."""

    def read(session: Session) -> Paged[RecipientView]:
        rows = lists.recipients(
            session, jurisdiction=user.jurisdiction, equal=equal, page=page, page_size=page_size
        )
        return Paged(
            items=[recipients.view_of(r) for r in rows.items],
            total=rows.total,
            page=rows.page,
            page_size=rows.page_size,
        )

    return await db.read(read)


async def read(*, db: Database, recipient_no: str, user: Actor, ring: KeyRing) -> RecipientRead:
    """The household (the permission found it in the user's jurisdiction), its members as the
    approving case accepted them, and its payments, the newest month first."""

    def household(session: Session) -> RecipientRead:
        row = recipients.recipient(session, recipient_no=recipient_no)
        start = start_of(session.get(CaseRecord, row.case_no), ring=ring)
        family = None
        if start is not None:
            role, applicant = user.role, start.applicant
            family = Family(
                applicant=type(applicant)(
                    name=applicant.name,
                    id_number=id_number_for(role, applicant.id_number),
                    phone=phone_for(role, applicant.phone),
                ),
                household=[
                    type(m)(
                        name=m.name,
                        id_number=id_number_for(role, m.id_number),
                        relation=m.relation,
                        monthly_income=m.monthly_income,
                    )
                    for m in start.household
                ],
            )
        items = payments_of(session, recipient_no=recipient_no)
        payments = [
            Payment(i.month, i.amount, i.status, i.account, i.transfer_id, i.reason, i.decided_at)
            for i in items
        ]
        view = recipients.view_of(row)
        under_way = session.get(ReviewRecord, view.open_review) if view.open_review else None
        return RecipientRead(view, family, payments, review_view(under_way) if under_way else None)

    return await db.read(household)


async def trail(*, db: Database, recipient_no: str, user: Actor) -> list[AuditEntryRecord]:
    """留痕 of the household; numbers in its notes as the user's role may read them."""
    entries = await db.read(audit_trail, case_no=recipient_no)
    return [
        AuditEntryRecord(**(e.model_dump() | {"note": for_role(user.role, e.note)}))
        for e in entries
    ]


async def record_bank_account(
    *,
    db: Database,
    client: Client,
    recipient_no: str,
    account: BankAccount,
    actor: Actor,
    ring: KeyRing,
    task_queue: str,
) -> RecipientView:
    """The household's corrected account; each month the bank refused is re-issued into it,
    once (a re-issue's workflow is named by its key: it cannot start twice; one the engine
    could not take now is started by the worker's watch)."""
    view, reissues = await db.write(
        recipients.record_bank_account, recipient_no=recipient_no, account=account,
        actor=actor, at=datetime.now(UTC), ring=ring,
    )  # fmt: skip
    for reissue in reissues:
        try:
            started = await start_reissue(client, reissue, task_queue=task_queue)
        except RPCError:  # the worker's watch starts it when the engine answers
            log.warning("recipient.reissue_postponed", recipient_no=recipient_no)
        else:
            if started:
                log.info("recipient.reissue", recipient_no=recipient_no, month=reissue.month)
    return view
