"""ReferralWorkflow: the deadline of one referral from another department (部门转介): the
township's caseworkers are reminded before it, and a referral without an outcome past it is
recorded overdue and notified.

A referral is not a case with stages for a workflow to hold: its outcome is one write (a
township's finding, or an intake naming it), made in the records under the referral's row
lock, so the intake that opens an application and the referral it answers commit together.
What must be durable is its clock, and that is this workflow: two timers, an activity when
each rings (which does nothing once the records say the referral is closed), and a signal that
ends it early when the outcome is given.
"""

import contextlib
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contracts import Activity
    from domain.referrals import ReferralAlarm, ReferralStart, referral_events
    from workflows.dealings import QUICK


@workflow.defn
class ReferralWorkflow:
    def __init__(self) -> None:
        self._closed = False
        self._fired: list[str] = []

    @workflow.signal
    def closed(self, outcome: str) -> None:
        """The referral has its outcome: no reminder, no breach."""
        self._closed = True

    @workflow.query
    def fired(self) -> list[str]:
        """The keys of the timed events that rang while the referral was open."""
        return list(self._fired)

    @workflow.run
    async def run(self, start: ReferralStart) -> str:
        for event in referral_events(start):
            wait = (event.at - workflow.now()).total_seconds()
            if wait > 0:
                with contextlib.suppress(TimeoutError):  # the moment came
                    await workflow.wait_condition(
                        lambda: self._closed, timeout=timedelta(seconds=wait)
                    )
            if self._closed:
                return "closed"
            alarm = ReferralAlarm(start.referral_no, event.kind, event.key)
            still_open = await workflow.execute_activity(
                Activity.referral_event, alarm, result_type=bool, **QUICK
            )
            if not still_open:  # its outcome was written and the signal lost
                return "closed"
            self._fired.append(event.key)
        return "overdue"
