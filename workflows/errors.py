"""How a refusal from the rules leaves a workflow: as an ``ApplicationError`` of the refusal's
type, which fails the Update (not the workflow task) and which the API maps to its status."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from temporalio.exceptions import ApplicationError

from domain.errors import CaseError, InvalidData


def as_failure(refusal: CaseError) -> ApplicationError:
    details = [{"field": refusal.field}] if isinstance(refusal, InvalidData) else []
    return ApplicationError(
        refusal.message, *details, type=type(refusal).__name__, non_retryable=True
    )


@contextmanager
def refusing() -> Iterator[None]:
    """Around the rules in a validator or an Update handler: a stray exception there would
    leave the workflow task retrying forever."""
    try:
        yield
    except CaseError as refusal:
        raise as_failure(refusal) from None


def check(rule: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """A rule's check, in a validator or an Update handler: its refusal fails the Update."""
    with refusing():
        rule(*args, **kwargs)
