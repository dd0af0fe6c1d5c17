"""A form's action taken once, however often it is sent (a double click, a reload): each
rendered form carries its own key, claimed in the records as the API's Idempotency-Key is
(``store.idempotency``), and handed to the service, which makes the case's Update ID of it.

The first request with the key acts; a twin sent meanwhile waits for it and gets the same
answer (where the browser goes next), never a second action. A refused action frees the key,
so the corrected form can be sent again."""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import anyio

from domain.errors import InvalidData, Unavailable
from store import idempotency
from store.db import Database
from store.idempotency import Answered, Claim

MAX_KEY_LENGTH = 200
WAIT_SECONDS = 0.2
"""How often a twin looks whether the first request has answered."""


def fingerprint(path: str, fields: dict[str, str]) -> str:
    """The request a key was made for: its path and the form's fields (the CSRF token aside)."""
    digest = hashlib.sha256(path.encode())
    for name in sorted(fields):
        if name != "csrf":
            for part in (name, fields[name]):
                digest.update(len(part.encode()).to_bytes(8, "big") + part.encode())
    return digest.hexdigest()


async def submit(
    *,
    db: Database,
    user_id: str,
    key: str,
    fingerprint: str,
    hold: timedelta,
    run: Callable[[], Awaitable[str]],
) -> str:
    """Where the browser goes after the form: ``run``'s answer, or the first request's."""
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidData("idempotency_key", "the form's key is missing or too long; reload it")
    claim = dict(user_id=user_id, key=key)
    waited_until = datetime.now(UTC) + hold
    while True:
        found = await db.write(
            idempotency.claim, **claim, fingerprint=fingerprint, now=datetime.now(UTC), hold=hold
        )
        if isinstance(found, Answered):
            return found.body
        if found is Claim.other_request:
            raise InvalidData(
                "idempotency_key", "this form was already sent with other content; reload it"
            )
        if found is Claim.claimed:
            break
        if datetime.now(UTC) > waited_until:
            raise Unavailable("the same form is still being processed; reload the page shortly")
        await asyncio.sleep(WAIT_SECONDS)  # the first request with the key is acting
    answered = False
    try:
        location = await run()
        answered = True
    finally:
        with anyio.CancelScope(shield=True):
            await db.write(
                idempotency.settle,
                **claim,
                status_code=200 if answered else 500,
                body=location if answered else "",
            )
    return location
