"""What the console's forms share: a posted form made into the API's body (its model checks
it as the API's does), the refusals of a form by the field they name (shown next to that
field, in Chinese), and the form's action taken once (``once``)."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from api.console import once, words
from api.console.actions import LISTS
from api.errors import STATUS
from domain.errors import CaseError
from settings import Settings
from store.db import Database

M = TypeVar("M", bound=BaseModel)
Problems = dict[str, list[str]]
"""Refusals by the field they name ("" for the form as a whole)."""


class FormProblems(Exception):
    """The form is refused: what to show next to which field, and the status to answer."""

    def __init__(self, problems: Problems, status_code: int) -> None:
        super().__init__(problems)
        self.problems = problems
        self.status_code = status_code


def field_name(loc: tuple | list | str) -> str:
    """The input a refusal names, of a location such as ("body", "household", 0, "name"):
    ``household.0.name``; a position in a list typed in one input is dropped
    (``investigators``)."""
    parts = [loc] if isinstance(loc, str) else list(loc)
    if parts and parts[0] in ("body", "query", "header", "path"):
        parts = parts[1:]
    named: list[str] = []
    for p in parts:
        if not (isinstance(p, int) and named and named[-1] in LISTS):
            named.append(str(p))
    return ".".join(named)


def parsed(model: type[M], data: dict[str, Any]) -> M:
    """The API's body of the form's data, or ``FormProblems`` (422) naming the fields."""
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        problems: Problems = {}
        for p in invalid.errors():
            name = field_name(p["loc"])
            message = words.problem(name, p["type"], p["msg"])
            problems.setdefault(name, []).append(message)
        raise FormProblems(problems, 422) from None


def refused(error: CaseError) -> FormProblems:
    """A rule's refusal, next to the field it names (in Chinese where ``words`` knows it)."""
    name = field_name(error.field.split(".")) if hasattr(error, "field") else ""
    return FormProblems({name: [words.refusal(error)]}, STATUS[type(error)])


async def act_once(
    request: Request,
    *,
    db: Database,
    settings: Settings,
    user_id: str,
    form: dict[str, str],
    run: Callable[[], Awaitable[str]],
) -> str:
    """Where the browser goes after the form: ``run`` done once under the form's key (a
    twin waits for the first and gets its answer); a refusal is ``FormProblems``."""
    try:
        return await once.submit(
            db=db, user_id=user_id, key=form.get("idempotency_key", ""),
            fingerprint=once.fingerprint(request.url.path, form),
            hold=timedelta(seconds=settings.action_timeout_seconds + 10), run=run,
        )  # fmt: skip
    except CaseError as error:
        raise refused(error) from None
