"""The request body, read once and bounded: above the limit the answer is 413 before anything
parses it, so no caller can make the API hold or parse megabytes."""

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_BYTES = 32 * 1024 * 1024
"""Up to this much of an oversized body is read and dropped, so that the caller, still
sending, gets the 413 rather than a reset connection; a larger one is cut off."""


class BoundedBody:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length", "0")
        if not declared.isdigit():
            return await _answer(
                400, "the Content-Length header is not a number", scope, receive, send
            )
        chunks, size, more = [], 0, True
        while more and size <= DRAIN_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the caller is gone: nothing to answer
            more = message.get("more_body", False)
            size += len(message.get("body", b""))
            if size <= self.max_bytes:
                chunks.append(message.get("body", b""))
            elif int(declared) > DRAIN_BYTES:
                break  # not worth reading: cut off
        if size > self.max_bytes:
            detail = (
                f"the request body is larger than {self.max_bytes // 1024} KiB; "
                "send less text or fewer items"
            )
            return await _answer(413, detail, scope, receive, send)
        await self.app(scope, replay(b"".join(chunks), receive), send)


async def _answer(
    status_code: int, detail: str, scope: Scope, receive: Receive, send: Send
) -> None:
    await JSONResponse({"detail": detail}, status_code=status_code)(scope, receive, send)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the caller's own messages
    (a disconnect, say)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def read_body(receive: Receive) -> bytes:
    """The whole body from a ``receive`` (after ``BoundedBody``: one message, already bounded)."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(chunks)
