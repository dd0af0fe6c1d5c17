"""Which cases have an external call waiting for its next attempt (the payment, SMS or
verification system is down): marked by the worker as an attempt fails, cleared as one
succeeds, for supervision to find. The attempt, its next time and its failure are then read
from the workflow's own description."""

from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from store.db import Database
from store.supervision import clear_retry, mark_retry
from workflows.client import case_no_of

log = structlog.get_logger()


class RetryMarks(Interceptor):
    def __init__(self, db: Database) -> None:
        self.db = db

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Marking(next, self.db)


class _Marking(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, db: Database) -> None:
        super().__init__(next)
        self.db = db

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        case_no = case_no_of(info.workflow_id or "")
        try:
            result = await self.next.execute_activity(input)
        except Exception as failure:
            final = isinstance(failure, ApplicationError) and failure.non_retryable
            if not final:
                await self._mark(
                    mark_retry, case_no=case_no, activity=info.activity_type,
                    attempt=info.attempt, failure=str(failure), at=datetime.now(UTC),
                )  # fmt: skip
            raise
        if info.attempt > 1:
            await self._mark(clear_retry, case_no=case_no, activity=info.activity_type)
        return result

    async def _mark(self, work, **kwargs: Any) -> None:
        """A mark is a help to people, never a reason for the activity to fail."""
        try:
            await self.db.write(work, **kwargs)
        except Exception:
            log.warning("retry_mark.failed", case_no=kwargs.get("case_no"), exc_info=True)
