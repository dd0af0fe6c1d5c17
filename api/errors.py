"""How a refusal reaches the caller: one table from the kind of refusal to its HTTP status,
and 422s in FastAPI's shape (``loc`` names the field), never echoing what was sent; and how
an error nobody foresaw does (``UnexpectedErrors``)."""

import structlog
from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import (
    CaseError,
    Conflict,
    InvalidData,
    NotFound,
    NotPermitted,
    Unavailable,
    WrongStage,
)

log = structlog.get_logger()

STATUS: dict[type[CaseError], int] = {
    NotPermitted: 403,
    NotFound: 404,
    WrongStage: 409,
    Conflict: 409,
    InvalidData: 422,
    Unavailable: 503,
}


def refusal_answer(error: CaseError) -> JSONResponse:
    if isinstance(error, InvalidData):
        where = error.field.split(".")
        loc = where if where[0] in ("header", "query", "path") else ["body", *where]
        return invalid_answer([{"loc": loc, "msg": error.message}])
    return JSONResponse({"detail": error.message}, status_code=STATUS[type(error)])


def records_unavailable_answer() -> JSONResponse:
    """The application database did not answer (locked past its wait, or down): try again."""
    return JSONResponse(
        {"detail": "the case records are unavailable; try again shortly"}, status_code=503
    )


def invalid_answer(problems: list[dict]) -> JSONResponse:
    return JSONResponse(
        {
            "detail": [
                {
                    "loc": [_printable(part) for part in p["loc"]],
                    "msg": p["msg"],
                    "type": p.get("type", "value_error"),
                }
                for p in problems
            ]
        },
        status_code=422,
    )


NOT_A_JSON_OBJECT = (
    "the body must be a JSON object in UTF-8, sent with Content-Type: application/json"
)
_UNPARSABLE = "There was an error parsing the body"
"""What FastAPI says, as a 400, of a body it cannot read at all (not UTF-8, say)."""


async def request_invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 without the ``input`` it would echo: that may be an ID number, megabytes
    of text, or a lone surrogate that cannot even be encoded into the answer."""
    problems = []
    for problem in error.errors():
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "this field is not part of the request; check its spelling"
        elif problem["type"] == "json_invalid":
            message = f"the body is not valid JSON (the error is at character {problem['loc'][-1]})"
        elif problem["type"] == "model_attributes_type" and tuple(problem["loc"]) == ("body",):
            message = NOT_A_JSON_OBJECT
        problems.append({"loc": problem["loc"], "msg": message, "type": problem["type"]})
    return invalid_answer(problems)


async def http_refused(request: Request, error: StarletteHTTPException) -> Response:
    """FastAPI's own answer to an HTTP error, but one that says what to send instead of a body
    it could not parse."""
    if error.status_code == 400 and error.detail == _UNPARSABLE:
        return JSONResponse({"detail": NOT_A_JSON_OBJECT}, status_code=400)
    return await http_exception_handler(request, error)


def _printable(part: object) -> object:
    if isinstance(part, str):
        return part.encode("utf-8", "replace").decode()[:100]
    return part


class UnexpectedErrors:
    """An exception no handler answers is logged once (``api.error``, bounded like every line:
    see ``logs``) and answered 500; the connection stays open for the caller's next request.

    Starlette's last resort answers too, but then raises the exception again for the server,
    which logs its traceback a second time and closes the connection: the caller's next
    request on it was reset."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            log.exception("api.error", path=scope["path"])
            if not started:  # else half an answer is out: the server closes the connection
                await unexpected_answer()(scope, receive, send)


def unexpected_answer() -> JSONResponse:
    return JSONResponse(
        {
            "detail": "the server could not complete this request; it is logged. Try again, and "
            "tell the system administrator if it happens again"
        },
        status_code=500,
    )
