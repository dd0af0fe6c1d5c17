"""The audit trail is sealed (``store.evidence.seal``) up to the entries old enough that no
write still under way can come before them."""

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError

from store.db import Database
from store.evidence import SEAL_MARGIN, seal

log = structlog.get_logger()


async def seal_audit_trail(db: Database, *, margin: timedelta = SEAL_MARGIN) -> int:
    """Seal the audit trail up to the entries written less than ``margin`` ago, a batch per
    transaction; how many seals were made."""
    made = 0
    while True:
        try:
            if await db.write(seal, now=datetime.now(UTC), margin=margin) is None:
                return made
        except IntegrityError:  # another worker made this seal: it carries on from there
            return made
        made += 1


async def watch_audit_trail(db: Database, *, every: timedelta) -> None:
    """Every ``every``, seal what is old enough."""
    while True:
        try:
            if made := await seal_audit_trail(db):
                log.info("audit.sealed", seals=made)
        except Exception:  # the database is down: seal next time
            log.exception("watch.seal_failed")
        await asyncio.sleep(every.total_seconds())
