"""The mirrors: workflows with jiuzhu's shape and nothing inside, run on a worker in the bench.

Temporal's sandbox imports this module again for every run: its top level stays deterministic
and imports nothing but the SDK and the standard library.
"""

import asyncio
from datetime import datetime, timedelta

from temporalio import activity, workflow


@workflow.defn
class BareEmergency:
    """An emergency's shape with nothing inside: the approval update, then the same activities
    as the real one until the money is settled (hold, transfer, settle, follow-up due, record)."""

    def __init__(self) -> None:
        self.approved_at: datetime | None = None

    @workflow.run
    async def run(self, case_no: str) -> float:
        await workflow.wait_condition(lambda: self.approved_at is not None)
        for label in ("hold_reserve", "make_payment", "settle_reserve", "add_working_days"):
            await step(label)
        await step("record:paid")
        paid = workflow.now()
        await step("notify_applicant:paid")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return (paid - self.approved_at).total_seconds() * 1000

    @workflow.update
    async def approve(self, amount: str) -> str:
        await step("record:approved")
        self.approved_at = workflow.now()
        return "paying"


# ---- the bare engine --------------------------------------------------------------------------

# What the real approved case runs, counted from workflows/application.py:
#   in its 3 updates (survey, review, decision): 1 record_transition each;
#   besides: verify_household, notify_applicant (accepted), record (verification report in),
#   record (survey completed), record (notice ended), register_household (a 低保 household
#   enters the register before its first payment), make_payment, notify_applicant (approved),
#   record (first payment made).
BARE_UPDATE_ACTIVITIES = 3
BARE_EXTRA_ACTIVITIES = 9


@activity.defn(name="bench_step")
async def bench_step(label: str) -> str:
    """A trivial activity: stands for a record write or a call to an external system."""
    return label


@workflow.defn(name="BenchBareCase")
class BareCase:
    """The shape of an approved case with nothing inside: the same updates, stages and activities."""

    def __init__(self) -> None:
        self.stage = "survey"
        self.surveyed = False
        self.verified = False
        self.reviewed = False
        self.decided = False

    @workflow.run
    async def run(self, case_no: str) -> str:
        verification = asyncio.create_task(self._verify())
        await self._step("notify_applicant:accepted")
        await workflow.wait_condition(lambda: self.surveyed and self.verified)
        self.stage = "review"
        await self._step("record:survey_completed")
        await workflow.wait_condition(lambda: self.reviewed)
        self.stage = "decision"
        await self._step("record:notice_ended")
        await workflow.wait_condition(lambda: self.decided)
        await self._step("register_household")
        await self._step("make_payment")
        await self._step("notify_applicant:approved")
        await self._step("record:first_payment_made")
        await verification
        await workflow.wait_condition(workflow.all_handlers_finished)
        return case_no

    @workflow.query
    def current_stage(self) -> str:
        return self.stage

    @workflow.update
    async def survey(self, note: str) -> str:
        await self._step("record:survey_recorded")
        self.surveyed = True
        return self.stage

    @survey.validator
    def _check_survey(self, note: str) -> None:
        self._require("survey")

    @workflow.update
    async def review(self, note: str) -> str:
        self.stage = "notice"
        self.reviewed = True
        await self._step("record:review_approve")
        return self.stage

    @review.validator
    def _check_review(self, note: str) -> None:
        self._require("review")

    @workflow.update
    async def decision(self, note: str) -> str:
        self.stage = "approved"
        self.decided = True
        await self._step("record:approved")
        return self.stage

    @decision.validator
    def _check_decision(self, note: str) -> None:
        self._require("decision")

    async def _verify(self) -> None:
        await self._step("verify_household")
        await self._step("record:verification_report_received")
        self.verified = True

    def _require(self, stage: str) -> None:
        if self.stage != stage:
            raise ValueError(f"stage is {self.stage}, not {stage}")

    async def _step(self, label: str) -> None:
        await step(label)


async def step(label: str) -> None:
    """In a bare workflow: one activity that does nothing."""
    await workflow.execute_activity(bench_step, label, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn(name="BenchMinimalCase")
class MinimalCase:
    """The floor of a durable lifecycle whose every step is recorded: three updates, one no-op
    activity in each, and done."""

    def __init__(self) -> None:
        self.steps = 0

    @workflow.run
    async def run(self, case_no: str) -> str:
        await workflow.wait_condition(lambda: self.steps == 3)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return case_no

    @workflow.update
    async def act(self, label: str) -> int:
        await step(label)
        self.steps += 1
        return self.steps
