"""After a key rotation, the ID numbers' keyed hashes are brought to the current key
(``store.hashed_ids``)."""

import asyncio
from datetime import timedelta

import structlog

from domain.sealing import KeyRing
from store.db import Database
from store.hashed_ids import TABLES as HASHED_TABLES
from store.hashed_ids import rehash_batch
from store.referrals import rehash_claims

log = structlog.get_logger()


async def rehash_id_numbers(db: Database, *, ring: KeyRing) -> int:
    """Re-hash under the current key the ID numbers kept under another (after a rotation), a
    batch of cases per transaction; how many rows changed (0 when all are current)."""
    changed = 0
    for table in HASHED_TABLES:
        after: str | None = ""
        while after is not None:
            done, after = await db.write(rehash_batch, ring=ring, table=table, after=after)
            changed += done
    while done := await db.write(rehash_claims, ring=ring):  # open referrals' claims
        changed += done
    return changed


async def watch_id_numbers(db: Database, *, ring: KeyRing, every: timedelta) -> None:
    """Every ``every``, re-hash what a rotation left under another key."""
    while True:
        try:
            if changed := await rehash_id_numbers(db, ring=ring):
                log.info("id_numbers.rehashed", rows=changed, key_id=ring.current)
        except Exception:  # the database is down: next time
            log.exception("watch.rehash_failed")
        await asyncio.sleep(every.total_seconds())
