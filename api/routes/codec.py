"""/codec: Temporal's codec server for the Web UI and the CLI, which see only ciphertext.

``POST /codec/decode`` and ``POST /codec/encode`` take and answer ``{"payloads": [...]}``,
each payload in protobuf's JSON form (``metadata`` values and ``data`` in base64). The Web UI
sends one event's payloads per call, from the browser, with the user's token and the namespace
in ``X-Namespace``; so the routes answer CORS from the configured Web UI origins only.

Only district-level supervisors and administrators may call it, and they see what a case
carries with its ID, phone and account numbers masked (``domain.privacy``): a role that sees
them in full elsewhere would see them in full here. Each call is logged with who made it.
"""

import json
import re
from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from api.deps import SettingsDep, bearer, signed_in
from api.permissions import DECRYPT_PAYLOADS, PermittedRoute, authorize, permit
from domain.cases import Actor, Role
from domain.errors import InvalidData
from domain.privacy import redact_value, sees_in_full
from domain.sealing import Unsealable
from domain.townships import DISTRICT_CODE
from settings import Settings
from workflows.client import EncryptionCodec

PREFIX = "/codec"
router = APIRouter(prefix=PREFIX, tags=["codec"], route_class=PermittedRoute)
log = structlog.get_logger()

MAX_PAYLOADS = 100
"""An event has a handful of payloads."""
BASE64 = r"^[A-Za-z0-9+/_-]*={0,2}$"
"""Standard or URL-safe, as protobuf's JSON form allows (protobuf itself skips stray
characters: without this, junk would decode as nothing)."""
MAX_DATA = 2**20
"""Above the body limit (64 KiB), which bounds them all: the largest payload jiuzhu writes, a
case of 30 people with the longest names and reasons, is about 28 KB here."""
MAX_NESTING = 32
"""Levels of JSON a payload may nest: jiuzhu's own nest 6 at most (a case carried over to a
new run); a hostile one nested hundreds deep would exhaust the parser's and the masking's
stack. Well below Python's recursion limit (1,000), so that whatever else reads a payload we
seal (the worker's converter) reads it too."""
JSON_BRACKETS = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
"""A JSON string (skipped: brackets in text do not nest; one left open runs to the end, so
the scan stays linear) or a bracket."""


class CodecPayload(BaseModel):
    """A ``temporal.api.common.v1.Payload`` in protobuf's JSON form."""

    model_config = ConfigDict(extra="forbid")

    metadata: Annotated[
        dict[
            Annotated[str, Field(max_length=100)],
            Annotated[str, Field(max_length=1000, pattern=BASE64)],
        ],
        Field(max_length=20, description="each value in base64"),
    ] = Field(default_factory=dict)
    data: Annotated[str, Field(max_length=MAX_DATA, pattern=BASE64, description="base64")] = ""


class CodecPayloads(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payloads: Annotated[list[CodecPayload], Field(max_length=MAX_PAYLOADS)]


Namespace = Annotated[
    str | None,
    Header(
        alias="X-Namespace",
        max_length=200,
        description="The namespace whose payloads these are (sent by the Web UI).",
    ),
]


CodecUser = Annotated[Actor, permit(DECRYPT_PAYLOADS)]

WEB_UI = Actor("temporal-web-ui", "Temporal Web UI (本机)", Role.auditor, DISTRICT_CODE)
"""Who decodes for the embedded stack's Web UI: it sends no token there (no identity provider
to sign one), so it reads as an overseer does, every personal number masked."""
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def embedded_web_ui(request: Request, settings: Settings) -> bool:
    """A call without a token from the configured Web UI's origin, over loopback, in a stack
    with no identity provider (the embedded one: `make run`)."""
    return (
        not settings.identity_provider()
        and "authorization" not in request.headers
        and request.headers.get("origin") in settings.codec_cors_origins
        and request.client is not None
        and request.client.host in LOOPBACK
    )


async def decoder(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The signed-in supervisor or administrator of the district; or the embedded stack's Web
    UI (``embedded_web_ui``), masked as an overseer."""
    if embedded_web_ui(request, settings):
        return WEB_UI
    return await authorize(DECRYPT_PAYLOADS, request, await signed_in(request, credentials))


decoder.permission = DECRYPT_PAYLOADS  # type: ignore[attr-defined]


@router.post("/decode", response_model=CodecPayloads)
def decode(
    body: CodecPayloads,
    settings: SettingsDep,
    user: Annotated[Actor, Depends(decoder)],
    namespace: Namespace = None,
) -> CodecPayloads:
    """Decrypt payloads; plain ones (from before encryption) come back as they are."""
    codec = EncryptionCodec(settings.key_ring())

    def shown(payload: Payload) -> Payload:
        opened = codec.open(payload)
        _bounded(opened)
        return opened if sees_in_full(user.role) else _masked(opened)

    return _convert(body, shown, "decode", settings=settings, user=user, namespace=namespace)


def _masked(payload: Payload) -> Payload:
    """A JSON payload with its personal numbers masked; any other comes back as it is."""
    if payload.metadata.get("encoding") != b"json/plain":
        return payload
    try:
        value = json.loads(payload.data)
    except ValueError:
        return payload
    masked = Payload()
    masked.CopyFrom(payload)
    masked.data = json.dumps(
        redact_value(value), ensure_ascii=False, separators=(",", ":")
    ).encode()
    return masked


@router.post("/encode", response_model=CodecPayloads)
def encode(
    body: CodecPayloads, settings: SettingsDep, user: CodecUser, namespace: Namespace = None
) -> CodecPayloads:
    """Encrypt payloads under the current key, as a worker would (a workflow started or
    signalled from the Web UI or the CLI)."""
    codec = EncryptionCodec(settings.key_ring())

    def sealed(payload: Payload) -> Payload:
        _bounded(payload)
        return codec.seal(payload)

    return _convert(body, sealed, "encode", settings=settings, user=user, namespace=namespace)


class TooDeep(ValueError):
    """A JSON payload nested deeper than ``MAX_NESTING``."""


def _bounded(payload: Payload) -> None:
    """Refuses a JSON payload nested deeper than ``MAX_NESTING``, read without parsing it."""
    if payload.metadata.get("encoding") != b"json/plain":
        return
    depth = 0
    for token in JSON_BRACKETS.finditer(payload.data):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > MAX_NESTING:
                raise TooDeep(
                    f"the payload's JSON is nested deeper than {MAX_NESTING} levels; "
                    "no case's payload nests so deep"
                )
        elif bracket in (b"]", b"}"):
            depth -= 1


def _convert(
    body: CodecPayloads,
    convert: Callable[[Payload], Payload],
    what: str,
    *,
    settings: Settings,
    user: Actor,
    namespace: str | None,
) -> CodecPayloads:
    if namespace is not None and namespace != settings.temporal_namespace:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"this codec serves the namespace '{settings.temporal_namespace}' only",
        )
    converted = []
    for n, item in enumerate(body.payloads):
        try:
            payload = json_format.ParseDict(item.model_dump(), Payload())
        except json_format.ParseError:
            raise InvalidData(f"payloads.{n}", "metadata values and data are base64") from None
        try:
            converted.append(convert(payload))
        except TooDeep as deep:
            raise InvalidData(f"payloads.{n}.data", str(deep)) from None
        except Unsealable as unreadable:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"payload {n}: {unreadable}") from None
    log.info("codec." + what, user=user.user_id, role=user.role, payloads=len(converted))
    return CodecPayloads.model_validate(
        {"payloads": [json_format.MessageToDict(p) for p in converted]}
    )


class CodecCors:
    """CORS for the codec routes alone, from the Web UI's origins: the rest of the API is
    never called from another origin's pages. Outermost, so that a refusal (401, 403, 413)
    reaches the Web UI readable too."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            # The Web UI may be set to include credentials; this API uses no cookies, so
            # allowing them grants nothing more than the bearer token does.
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            return await self.cors(scope, receive, send)
        return await self.app(scope, receive, send)
