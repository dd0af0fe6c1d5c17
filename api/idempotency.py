"""Idempotency-Key: a retried POST or PUT gets the first answer again and has no second effect.

The key belongs to one user and one request: its fingerprint (method, path, query, body) is
kept, and the same key with a different request is refused (422). The first request claims
the key; a concurrent twin gets 409. Only a request that took effect (2xx) keeps its answer;
any other outcome frees the key, so a corrected retry runs. A claim left by a request that died
expires soon after the action time-out, and the retry runs again (case actions are also
deduplicated by Temporal, whose Update ID is made of the action, the user and the key).
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import structlog
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.body import read_body, replay
from api.errors import invalid_answer, records_unavailable_answer
from api.identity import ProviderUnavailable, TokenRefused, TokenVerifier, UnusableClaims
from domain.privacy import redact
from settings import Settings
from store import idempotency
from store.db import Database
from store.idempotency import Answered, Claim

log = structlog.get_logger()

MAX_KEY_LENGTH = 200
NEVER_KEPT = ("/codec/",)
"""Answers that must not be stored (decrypted case data), of calls that change nothing."""


@dataclass(frozen=True)
class Earlier:
    """What an earlier request with the key left: its answer, or why this one cannot run."""

    status_code: int
    body: str
    replayed: bool = False


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings, verifier: TokenVerifier) -> None:
        self.app = app
        self.db = Database(settings.database_url)
        self.verifier = verifier
        self.hold = timedelta(seconds=settings.action_timeout_seconds + 10)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("POST", "PUT")
            or scope["path"].startswith(NEVER_KEPT)
        ):
            return await self.app(scope, receive, send)
        request_headers = Headers(scope=scope)
        key = request_headers.get("idempotency-key")
        user_id = await self._user_id(request_headers) if key is not None else None
        if user_id is None:
            return await self.app(scope, receive, send)  # the route answers 401/403 itself
        if not 0 < len(key) <= MAX_KEY_LENGTH:
            answer = _invalid_key(f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters")
            return await answer(scope, receive, send)

        body = await read_body(receive)
        claim = dict(user_id=user_id, key=key)
        now = datetime.now(UTC)
        try:
            found = await self.db.write(
                idempotency.claim,
                **claim,
                fingerprint=_fingerprint(scope, body),
                now=now,
                hold=self.hold,
            )
        except OperationalError as error:  # outside the app: its handlers do not see this
            log.error("idempotency.claim_failed", path=scope["path"], error=str(error.orig))
            return await records_unavailable_answer()(scope, receive, send)
        if (earlier := _earlier(found)) is not None:
            headers = {"Idempotent-Replayed": "true"} if earlier.replayed else None
            answer = Response(earlier.body, earlier.status_code, headers, "application/json")
            return await answer(scope, receive, send)

        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        try:
            await self.app(scope, replay(body, receive), keep)
        finally:
            with anyio.CancelScope(shield=True):
                status = answer[0]["status"] if answer else 500
                text = b"".join(m.get("body", b"") for m in answer[1:]).decode(errors="replace")
                # Kept a day in a table: never with a number of the family's in full.
                try:
                    await self.db.write(
                        idempotency.settle, **claim, status_code=status, body=redact(text)
                    )
                except OperationalError as error:
                    # The request took effect: its answer goes out all the same. The claim
                    # expires after the hold; a retry then runs again, and intake's duplicate
                    # check or Temporal's Update ID keeps it from acting twice.
                    log.warning(
                        "idempotency.settle_failed", path=scope["path"], error=str(error.orig)
                    )
        for message in answer:
            await send(message)

    async def _user_id(self, headers: Headers) -> str | None:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        try:
            return (await self.verifier.verify(auth.removeprefix("Bearer "))).user_id
        except (TokenRefused, UnusableClaims, ProviderUnavailable):
            return None


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope["query_string"], body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _earlier(found: Claim | Answered) -> Earlier | None:
    """What answers the request instead of running it (None: it runs)."""
    if isinstance(found, Answered):
        return Earlier(found.status_code, found.body, replayed=True)
    if found is Claim.in_flight:
        return _in_flight()
    if found is Claim.other_request:
        reused = _invalid_key(
            "this Idempotency-Key was used for a different request; use a new key for a new request"
        )
        return Earlier(422, reused.body.decode())
    return None


def _in_flight() -> Earlier:
    return Earlier(
        409, _json("a request with this Idempotency-Key is being processed; retry shortly")
    )


def _json(detail: str) -> str:
    return json.dumps({"detail": detail}, ensure_ascii=False)


def _invalid_key(message: str) -> JSONResponse:
    """A 422 in the shape of every other (the schema's): the header named in ``loc``."""
    return invalid_answer([{"loc": ["header", "Idempotency-Key"], "msg": message}])
