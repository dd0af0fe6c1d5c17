"""Idempotency keys in the records (``idempotency_record``): claimed by the first request with
the key, then holding its answer for a retry (``api.idempotency``)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete

from store.tables import IdempotencyRecord

RETENTION = timedelta(hours=24)
"""How long an answer is kept for a retry."""


class Claim(StrEnum):
    claimed = "claimed"
    """The key is this request's: it runs."""
    in_flight = "in_flight"
    """A request with the key runs now."""
    other_request = "other_request"
    """The key was used for a different request."""


@dataclass(frozen=True)
class Answered:
    """The answer of the request that took effect with the key."""

    status_code: int
    body: str


def claim(
    session: Session, *, user_id: str, key: str, fingerprint: str, now: datetime, hold: timedelta
) -> Claim | Answered:
    """Claim the key for the request of this fingerprint until ``now + hold``, or what stands
    in the way. Keys past their retention go first."""
    session.exec(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - RETENTION))
    record = session.get(IdempotencyRecord, (user_id, key))
    if record is None:
        session.add(
            IdempotencyRecord(
                user_id=user_id,
                key=key,
                fingerprint=fingerprint,
                created_at=now,
                claimed_until=now + hold,
            )
        )
        try:
            session.flush()
        except IntegrityError:  # a twin claimed it between our read and our insert
            session.rollback()
            return Claim.in_flight
        return Claim.claimed
    if record.fingerprint != fingerprint:
        return Claim.other_request
    if record.status_code is not None:
        return Answered(record.status_code, record.body or "")
    if record.claimed_until and record.claimed_until > now:
        return Claim.in_flight
    record.claimed_until = now + hold  # the request that claimed it died: run it again
    session.add(record)
    return Claim.claimed


def settle(session: Session, *, user_id: str, key: str, status_code: int, body: str) -> None:
    """Keep the answer of a request that took effect; free the key after any other outcome."""
    record = session.get(IdempotencyRecord, (user_id, key))
    if record is None:
        return
    if 200 <= status_code < 300:
        record.status_code, record.body, record.claimed_until = status_code, body, None
        session.add(record)
    else:
        session.delete(record)
