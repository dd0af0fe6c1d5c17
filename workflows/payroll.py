"""The district's monthly payroll (按月社会化发放): ``PayrollWorkflow`` for a month starts one
``TownshipPayrollWorkflow`` per township, each of which makes its items, sends its batches to
the bank (代发), records each line's outcome, reconciles the batch's totals and tells the
families and the caseworkers. No history grows with the district: the month's holds a child
per township, a township's a few activities per batch of at most ``batch_size`` households.

Started by a district officer (``POST /payrolls``) or by the monthly Schedule; either way its
workflow id is ``payroll-<month>``, so a month runs once. Every step is keyed: killed at any
point and started again, each household is paid once for the month.
"""

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.contracts import (
        Activity,
        BatchOutcome,
        BatchRef,
        PaymentOrder,
        PaymentReceipt,
        PayrollMonth,
        Reissue,
        ReissueOutcome,
        TownshipMonth,
    )
    from domain.months import Month
    from domain.payroll import payroll_workflow_id, waves

# The records and the bank are retried until they answer (a payroll waits for an outage to
# end); an attempt lost with a dead worker is retried when its time-out ends.
STEP = dict(
    start_to_close_timeout=timedelta(seconds=60),
    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
)
BANK = dict(STEP, start_to_close_timeout=timedelta(seconds=30))
"""A batch sent or read: seconds, even of 20,000 lines."""


@workflow.defn
class PayrollWorkflow:
    @workflow.run
    async def run(self, start: PayrollMonth) -> None:
        if not start.month:  # the Schedule's run: this month's payroll, once
            await self._start_month(start)
            return
        townships = await workflow.execute_activity(
            Activity.open_payroll, start, result_type=list[str], **STEP
        )
        # In waves, so that a worker holds a few townships' work at a time, not the district's.
        at_once = start.townships_at_once if workflow.patched("payroll-in-waves") else 0
        for wave in waves(townships, at_once):
            shares = [
                workflow.execute_child_workflow(
                    TownshipPayrollWorkflow.run,
                    TownshipMonth(start.month, township, start.batch_size),
                    id=f"{payroll_workflow_id(Month.parse(start.month))}-{township}",
                )
                for township in wave
            ]
            await asyncio.gather(*shares)
        await workflow.execute_activity(Activity.close_payroll, start.month, **STEP)

    async def _start_month(self, start: PayrollMonth) -> None:
        month = Month.at(workflow.now())
        try:
            await workflow.start_child_workflow(
                PayrollWorkflow.run,
                replace(start, month=str(month)),
                id=payroll_workflow_id(month),
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("the payroll of %s was started already", month)


@workflow.defn
class TownshipPayrollWorkflow:
    @workflow.run
    async def run(self, share: TownshipMonth) -> list[BatchOutcome]:
        parts = await workflow.execute_activity(
            Activity.make_payroll_items, share, result_type=list[int], **STEP
        )
        outcomes = []
        for part in parts:
            batch = BatchRef(share.month, share.township, part)
            await workflow.execute_activity(Activity.send_batch, batch, **BANK)
            outcome = await workflow.execute_activity(
                Activity.settle_batch, batch, result_type=BatchOutcome, **BANK
            )
            await workflow.execute_activity(Activity.tell_batch, batch, **STEP)
            outcomes.append(outcome)
        return outcomes


@workflow.defn
class ReissueWorkflow:
    """A refused month of a household paid again, once, into the account a caseworker
    corrected (its workflow id is its key: a second start is refused)."""

    @workflow.run
    async def run(self, reissue: Reissue) -> None:
        order = await workflow.execute_activity(
            Activity.reissue_order, reissue, result_type=PaymentOrder | None, **STEP
        )
        if order is None:  # decided already
            return
        try:
            receipt = await workflow.execute_activity(
                Activity.make_payment, order, result_type=PaymentReceipt, **STEP
            )
            outcome = ReissueOutcome(reissue.key, transfer_id=receipt.transfer_id)
        except ActivityError as refused:  # for good: a closed account, a name that differs
            outcome = ReissueOutcome(reissue.key, reason=str(refused.cause))
        await workflow.execute_activity(Activity.record_reissue, outcome, **STEP)
