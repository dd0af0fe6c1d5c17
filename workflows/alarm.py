"""The one durable timer of a case workflow."""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow


class Alarm:
    """The one durable timer for a case's next timed event, replaced only when that moment
    moves: the history holds a timer per deadline, not one per wake-up."""

    def __init__(self) -> None:
        self._timer: asyncio.Task[None] | None = None
        self._at: datetime | None = None

    def set(self, at: datetime | None) -> None:
        if at == self._at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._at = at
        self._timer = (
            asyncio.create_task(workflow.sleep(max(at - workflow.now(), timedelta(seconds=1))))
            if at
            else None
        )

    @property
    def rang(self) -> bool:
        return self._timer is not None and self._timer.done()

    def spent(self) -> None:
        """After a wait: a timer that rang is spent; its event fires at the top of the loop."""
        if self.rang:
            self._timer, self._at = None, None

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
