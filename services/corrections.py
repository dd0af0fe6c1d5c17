"""Corrections (容错纠错) and findings of dishonesty (失信) on a recipient household behind the
routes: a district officer's correction of a benefit from a stated month and what it found
overpaid, the outcome of recovering it, and a finding that ends the benefit and flags any later
intake of a member. A correction of a refused case (never a household) is not one of these:
a supervisor's ``reopen`` stays for undecided cases."""

from datetime import UTC, datetime
from decimal import Decimal

import structlog

from domain.cases import Actor
from domain.recipients import RecipientView
from domain.sealing import KeyRing
from settings import Settings
from store import corrections
from store.corrections import Corrected
from store.db import Database
from store.tables import BenefitRecovery, DishonestyFinding

log = structlog.get_logger()


async def correct(
    *,
    db: Database,
    settings: Settings,
    recipient_no: str,
    kind: str,
    effective_month: str,
    reasons: str,
    amount: Decimal | None,
    exception_reason: str | None,
    actor: Actor,
) -> Corrected:
    corrected = await db.write(
        corrections.correct_benefit, recipient_no=recipient_no, kind=kind,
        effective_month=effective_month, reasons=reasons, amount=amount,
        exception_reason=exception_reason, actor=actor, now=datetime.now(UTC),
        policy=settings.policy,
    )  # fmt: skip
    log.info(
        "recipient.corrected", recipient_no=recipient_no, kind=kind, user=actor.user_id,
        recovery=corrected.recovery.id if corrected.recovery else None,
    )  # fmt: skip
    return corrected


async def record_recovery(
    *, db: Database, recipient_no: str, recovery_id: int, outcome: str, note: str, actor: Actor
) -> BenefitRecovery:
    return await db.write(
        corrections.record_recovery_outcome, recipient_no=recipient_no,
        recovery_id=recovery_id, outcome=outcome, note=note, actor=actor, now=datetime.now(UTC),
    )  # fmt: skip


async def find_dishonesty(
    *,
    db: Database,
    recipient_no: str,
    source: str,
    reasons: str,
    effective_month: str | None,
    actor: Actor,
    settings: Settings,
    ring: KeyRing,
) -> tuple[RecipientView, DishonestyFinding]:
    found = await db.write(
        corrections.find_dishonesty, recipient_no=recipient_no, source=source, reasons=reasons,
        effective_month=effective_month, actor=actor, now=datetime.now(UTC),
        policy=settings.policy, ring=ring,
    )  # fmt: skip
    log.info("recipient.dishonesty_found", recipient_no=recipient_no, user=actor.user_id)
    return found


async def on_record(
    *, db: Database, recipient_no: str
) -> tuple[list[BenefitRecovery], list[DishonestyFinding]]:
    """The household's amounts to recover and findings of dishonesty."""

    def read(session):
        return (
            corrections.recoveries_of(session, recipient_no=recipient_no),
            corrections.findings_of(session, recipient_no=recipient_no),
        )

    return await db.read(read)
