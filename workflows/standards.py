"""A new 低保 standard applied to the register (低保标准调整): ``StandardChangeWorkflow`` pages
through the recipient households with activities, each page one transaction that gives its
households their amounts from the standard's month and texts the families. No history and no
worker's memory grows with the register: a page is a few events, its households rows.

Its workflow id is ``dibao-standard-<month>``; every step is keyed (a decision on a household's
course by ``standard-<month>``, a text by the household), so a rerun changes nothing.
"""

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.contracts import Activity, StandardChangeRun, StandardPage, StandardPageDone

STEP = dict(
    start_to_close_timeout=timedelta(seconds=120),
    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
)
PAGES_PER_RUN = 500
"""Pages before the workflow continues as new (a register of 250,000 households at 500)."""


def standard_workflow_id(from_month: str) -> str:
    return f"dibao-standard-{from_month}"


@workflow.defn
class StandardChangeWorkflow:
    @workflow.run
    async def run(self, change: StandardChangeRun) -> int:
        after, applied = change.after, change.applied
        for _ in range(PAGES_PER_RUN):
            done = await workflow.execute_activity(
                Activity.apply_standard,
                StandardPage(change.from_month, after, change.page_size),
                result_type=StandardPageDone,
                **STEP,
            )
            applied += done.applied
            if done.last is None:
                await workflow.execute_activity(
                    Activity.close_standard_change, change.from_month, result_type=int, **STEP
                )
                return applied
            after = done.last
        workflow.continue_as_new(replace(change, after=after, applied=applied))
