"""Structured logs (structlog) for every process: readable on a console, JSON in production.

Log the case number, never an ID-card or phone number in clear. Whatever a line carries, ours
or a library's, its message, fields and exception, anything shaped like an ID, mobile or bank
account number is masked before it is written (``domain.privacy``); and no line is longer than
a few KB, whatever a request made of it.
"""

import logging
import sys
from typing import Any, TextIO

import structlog

from domain.privacy import redact_value


def redact_personal_numbers(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """The last step before rendering: the exception is text by now, so it is masked too."""
    return {
        key: value if key.startswith("_") else redact_value({key: value})[key]
        for key, value in event.items()
    }


MAX_TEXT_CHARS = 2000
"""Of a message or a field: what a caller sent or a library said is quoted, never whole."""
TRACEBACK_HEAD_CHARS, TRACEBACK_TAIL_CHARS = 1000, 3000
"""Of a traceback: where it began and, the longer part, where it ended and what was raised (a
hostile JSON nested 700 deep made a traceback of 190 KB)."""


def bound_lengths(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """After masking (a cut never leaves part of a number in clear): every text field cut to
    its bound, saying how much was left out."""
    for key, value in event.items():
        if not isinstance(value, str) or key.startswith("_"):
            continue
        if key in ("exception", "stack"):
            head, tail = TRACEBACK_HEAD_CHARS, TRACEBACK_TAIL_CHARS
        else:
            head, tail = MAX_TEXT_CHARS, 0
        if len(value) > head + tail:
            left_out = len(value) - head - tail
            event[key] = (
                value[:head]
                + f"\n… {left_out} characters left out …\n"
                + value[len(value) - tail :]
            )
    return event


def configure_logging(
    *, fmt: str = "console", level: str = "INFO", process: str = "", stream: TextIO | None = None
) -> None:
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if process:
        shared.append(lambda _l, _m, event: {"process": process, **event})
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.StackInfoRenderer(),
                redact_personal_numbers,
                bound_lengths,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn gives its loggers their own handlers, past this formatter: its access log would
    # write a URL's query string (anything a user typed) unredacted.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # each call is logged by the activity
