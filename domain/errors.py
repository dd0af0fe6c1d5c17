"""Why a request is refused. The rules raise these; the API answers each kind with its own
HTTP status (one table in ``api.errors``), and the workflows carry them to the API as
``ApplicationError``s of the same type name."""


class CaseError(Exception):
    """A refusal with a message a caseworker can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WrongStage(CaseError):
    """The action does not fit the case's stage (409)."""


class Conflict(CaseError):
    """The request collides with another case or request (409): a duplicate application."""


class InvalidData(CaseError):
    """A value that cannot be right (422), naming the field, e.g. ``investigators``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotPermitted(CaseError):
    """The user's role or position may not do this (403)."""


class NotFound(CaseError):
    """No such thing in the user's jurisdiction (404): its existence is not revealed."""


class Unavailable(CaseError):
    """A part the action needs (the case engine, say) cannot be reached now; nothing was done,
    and the same request may be sent again shortly (503)."""
