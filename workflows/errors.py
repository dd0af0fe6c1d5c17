"""How an action is refused: an ApplicationError of a known type, which fails the Update
(not the workflow) and which the API maps to an HTTP status."""

from temporalio.exceptions import ApplicationError

WRONG_STAGE = "WrongStage"  # 409
INVALID_DATA = "InvalidData"  # 422, with the field
NOT_PERMITTED = "NotPermitted"  # 403


def wrong_stage(message: str) -> ApplicationError:
    return ApplicationError(message, type=WRONG_STAGE, non_retryable=True)


def invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, {"field": field}, type=INVALID_DATA, non_retryable=True)


def not_permitted(message: str) -> ApplicationError:
    return ApplicationError(message, type=NOT_PERMITTED, non_retryable=True)
