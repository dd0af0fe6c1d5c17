"""Idempotency-Key: a retried POST or PUT gets the first answer again and has no second effect.

The key is scoped to the user. The first request claims it; a concurrent twin gets 409; a claim
left by a crashed request expires, and the retry runs again (case actions are also deduplicated
by Temporal, which receives the key as the Update ID).
"""

from datetime import datetime, timedelta, timezone

import jwt
from sqlalchemy.exc import IntegrityError
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.tokens import read_token
from store.db import session_scope
from store.tables import IdempotencyRecord

STALE_CLAIM = timedelta(minutes=2)


class IdempotencyMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        key = request.headers.get("Idempotency-Key")
        auth = request.headers.get("Authorization", "")
        if not key or request.method not in ("POST", "PUT") or not auth.startswith("Bearer "):
            return await call_next(request)
        settings = request.app.state.settings
        try:
            user_id = read_token(auth.removeprefix("Bearer "), secret=settings.jwt_secret).user_id
        except (jwt.InvalidTokenError, ValueError, KeyError):
            return await call_next(request)  # the route answers 401

        url = settings.database_url
        earlier = _claim(url, user_id=user_id, key=key, method=request.method, path=request.url.path)
        if earlier is not None:
            return earlier
        response = await call_next(request)
        body = b"".join([chunk async for chunk in response.body_iterator])
        _settle(url, user_id=user_id, key=key, status_code=response.status_code, body=body)
        return Response(
            content=body,
            status_code=response.status_code,
            headers=dict(response.headers),
            media_type=response.media_type,
        )


def _claim(url: str, *, user_id: str, key: str, method: str, path: str) -> Response | None:
    """Claim the key, or the response that answers the request instead."""
    now = datetime.now(timezone.utc)
    with session_scope(url) as session:
        record = session.get(IdempotencyRecord, (user_id, key))
        if record is None:
            session.add(IdempotencyRecord(user_id=user_id, key=key, method=method, path=path, created_at=now))
            try:
                session.commit()
            except IntegrityError:
                return _conflict("a request with this Idempotency-Key is being processed; retry shortly")
            return None
        if (record.method, record.path) != (method, path):
            return JSONResponse(
                {"detail": "this Idempotency-Key was used for a different request; use a new key"},
                status_code=422,
            )
        if record.status_code is not None:
            return Response(
                content=record.body,
                status_code=record.status_code,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        if now - record.created_at < STALE_CLAIM:
            return _conflict("a request with this Idempotency-Key is being processed; retry shortly")
        record.created_at = now
        session.add(record)
        return None


def _settle(url: str, *, user_id: str, key: str, status_code: int, body: bytes) -> None:
    """Keep the answer; a server-side failure frees the key for a retry instead."""
    with session_scope(url) as session:
        record = session.get(IdempotencyRecord, (user_id, key))
        if record is None:
            return
        if status_code >= 500:
            session.delete(record)
        else:
            record.status_code, record.body = status_code, body.decode()
            session.add(record)


def _conflict(message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=409)
