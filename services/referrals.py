"""Referrals from other departments (部门转介) behind the routes: filing one (routed to the
family's township, linked when the family is already assisted or already referred), the
township's inbox and the department's list, the township's outcome, and the referral's
deadline (``ReferralWorkflow``) started with it and ended once it has its outcome."""

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from domain.cases import Actor
from domain.errors import Unavailable
from domain.identity import mask_id_number
from domain.policy import Policy
from domain.privacy import sees_in_full
from domain.referrals import OutcomeRecord, check_situation, filing_department
from domain.sealing import KeyRing
from store import referrals
from store.db import Database
from store.pages import Paged, paged
from store.referrals import Family, Filing
from store.tables import ReferralRecord
from workflows.client import referral_workflow_id, start_referral
from workflows.referral import ReferralWorkflow

log = structlog.get_logger()


@dataclass(frozen=True)
class Shown:
    """A referral as its reader may see it: the family's numbers in full only to the roles
    that work with the family (``domain.privacy``), masked to a department and to overseers."""

    row: ReferralRecord
    id_number: str
    phone: str


async def file(
    *,
    db: Database,
    client: Client,
    user: Actor,
    department: str | None,
    situation: str,
    family: Family,
    village: str,
    note: str,
    policy: Policy,
    ring: KeyRing,
    task_queue: str,
) -> Shown:
    filing = Filing(
        department=filing_department(user, department),
        situation=check_situation(situation),
        family=family,
        village=village,
        note=note,
    )
    filed = await db.write(
        referrals.file_referral, filing=filing, actor=user, now=datetime.now(UTC), policy=policy,
        ring=ring,
    )  # fmt: skip
    row = filed.row
    if filed.start is not None:
        try:
            await start_referral(client, filed.start, task_queue=task_queue)
        except Exception:
            log.exception("referral.start_failed", case_no=row.referral_no)
            if not await _started(client, row.referral_no):  # a lost answer may have started it
                await db.write(referrals.discard_referral, referral_no=row.referral_no)
                raise Unavailable(
                    "the case engine is unavailable; nothing was saved, try again"
                ) from None
    log.info(
        "referral.filed", case_no=row.referral_no, department=row.department,
        township=row.township, status=row.status, person=mask_id_number(family.id_number),
    )  # fmt: skip
    return Shown(row, row.id_number, row.phone)  # the answer is kept (Idempotency-Key): masked


async def _started(client: Client, referral_no: str) -> bool:
    try:
        await client.get_workflow_handle(referral_workflow_id(referral_no)).describe()
        return True
    except RPCError:
        return False


async def listing(
    *, db: Database, user: Actor, equal: dict[str, str | None], page: int, page_size: int
) -> Paged[Shown]:
    """The township's inbox (its caseworkers), the department's referrals (a liaison), the
    district's (its officers): newest first; numbers masked (a list is not where the family
    is worked with: the referral itself shows them to its caseworkers)."""

    def read(session) -> Paged:
        return paged(
            session, referrals.listing_query(user=user, equal=equal),
            order_by=[ReferralRecord.received_at.desc(), ReferralRecord.referral_no],
            page=page, page_size=page_size,
        )  # fmt: skip

    found = await db.read(read)
    shown = [Shown(r, r.id_number, r.phone) for r in found.items]
    return Paged(shown, found.total, found.page, found.page_size)


async def read(*, db: Database, user: Actor, referral_no: str, ring: KeyRing) -> Shown:
    row = await db.read(referrals.referral, referral_no=referral_no, user=user)
    if user.department is None and sees_in_full(user.role):
        family = referrals.family_of(row, ring=ring)
        return Shown(row, family.id_number, family.phone)
    return Shown(row, row.id_number, row.phone)


async def record_outcome(
    *, db: Database, client: Client, referral_no: str, record: OutcomeRecord
) -> Shown:
    row = await db.write(
        referrals.record_outcome, referral_no=referral_no, record=record, at=datetime.now(UTC)
    )
    await end_deadline(client, referral_no, row.outcome or "")
    log.info("referral.outcome", case_no=referral_no, outcome=row.outcome)
    return Shown(row, row.id_number, row.phone)  # kept as the answer (Idempotency-Key): masked


async def end_deadline(client: Client, referral_no: str, outcome: str) -> None:
    """The referral's workflow ends early; if it cannot be told, its next timer finds the
    referral closed in the records and ends then."""
    try:
        handle = client.get_workflow_handle(referral_workflow_id(referral_no))
        await handle.signal(ReferralWorkflow.closed, outcome)
    except RPCError as failed:
        log.info("referral.deadline_not_signalled", case_no=referral_no, error=str(failed)[:100])
