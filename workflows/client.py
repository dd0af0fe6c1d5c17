"""How every process talks to Temporal: one data converter (pydantic: Decimal, dates, enums),
and every payload encrypted before it leaves the process (the Temporal server, its database and
its Web UI hold ciphertext only)."""

import contextlib
import os
from collections.abc import Sequence
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Interceptor,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleRange,
    ScheduleSpec,
    WorkflowExecutionStatus,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadCodec,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import Runtime

from domain.contracts import PayrollMonth, Reissue, ReviewRound
from domain.payroll import reissue_workflow_id
from domain.referrals import ReferralStart
from domain.reviews import ReviewStart
from domain.sealing import NONCE_BYTES, KeyRing, Sealed
from workflows.payroll import PayrollWorkflow, ReissueWorkflow
from workflows.referral import ReferralWorkflow
from workflows.review import ReviewRoundWorkflow, ReviewWorkflow


class CasePayloadConverter(CompositePayloadConverter):
    """Temporal's pydantic JSON conversion, with one type-adapter cache for the whole process.

    The workflow sandbox makes a converter for every workflow run; with a cache of its own,
    each run built pydantic's schemas for every case message afresh, costly on a busy worker.
    """

    shared_json = PydanticJSONPlainPayloadConverter()

    def __init__(self) -> None:
        super().__init__(
            *(
                self.shared_json if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


ENCRYPTED = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_PURPOSE = b"temporal-payload"


class EncryptionCodec(PayloadCodec):
    """Each payload, metadata and data, serialized and sealed under the ring's current key;
    the outer payload says ``binary/encrypted`` and names the key. Decoding passes plain
    payloads through: histories recorded before payloads were encrypted still replay
    (``tests/test_replay.py`` keeps some).

    Runs outside the workflow sandbox (the SDK encodes and decodes around it), so the random
    nonce is drawn here."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        sealed = self.ring.seal(
            payload.SerializeToString(), purpose=_PURPOSE, nonce=os.urandom(NONCE_BYTES)
        )
        return Payload(
            metadata={"encoding": ENCRYPTED, KEY_ID: sealed.key_id.encode()}, data=sealed.data
        )

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCRYPTED:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        return Payload.FromString(self.ring.open(Sealed(key_id, payload.data), purpose=_PURPOSE))


def data_converter(ring: KeyRing) -> DataConverter:
    """Payloads encrypted; failures' messages and stack traces too (they can quote what a
    caseworker typed), moved into an encrypted attribute (the Web UI shows "Encoded failure"
    without the codec)."""
    return DataConverter(
        payload_converter_class=CasePayloadConverter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    address: str,
    namespace: str,
    *,
    ring: KeyRing,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
) -> Client:
    """``interceptors`` (tracing) and ``runtime`` (metrics) serve the operator; a worker made
    on this client uses the same."""
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=data_converter(ring),
        interceptors=interceptors,
        runtime=runtime,
    )


CASE_WORKFLOWS = ("ApplicationWorkflow", "EmergencyWorkflow")
_PREFIXES = ("application-", "emergency-")


def application_workflow_id(case_no: str) -> str:
    """The workflow of a case is named after its number: starting it twice is impossible."""
    return f"application-{case_no}"


def emergency_workflow_id(case_no: str) -> str:
    return f"emergency-{case_no}"


def case_no_of(workflow_id: str) -> str:
    for prefix in _PREFIXES:
        if workflow_id.startswith(prefix):
            return workflow_id.removeprefix(prefix)
    return workflow_id


HALTED_STATUSES = (
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
)
"""How a workflow ends when the engine, not the procedure, stopped it."""


PAYROLL_SCHEDULE = "payroll-monthly"


async def ensure_payroll_schedule(
    client: Client,
    *,
    task_queue: str,
    day: int,
    hour: int,
    batch_size: int,
    townships_at_once: int = 0,
) -> None:
    """The Schedule that starts each month's payroll on ``day`` at ``hour`` (Asia/Shanghai),
    created when it is missing (any number of workers may try: one creates it)."""

    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            PayrollWorkflow.run,
            PayrollMonth(
                month="",
                started_by="schedule",
                batch_size=batch_size,
                townships_at_once=townships_at_once,
            ),  # fmt: skip
            id="payroll-scheduled",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(day_of_month=[ScheduleRange(day)], hour=[ScheduleRange(hour)])
            ],
            time_zone_name="Asia/Shanghai",
        ),
    )
    with contextlib.suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(PAYROLL_SCHEDULE, schedule)


async def start_reissue(client: Client, reissue: Reissue, *, task_queue: str) -> bool:
    """Start the re-issue's workflow, named by its key (the bank pays a key once): a run that
    failed or was terminated is run again, one that completed has recorded its answer. False
    when it runs or ran already."""
    return await _start_once(
        client, ReissueWorkflow.run, reissue, id=reissue_workflow_id(reissue.key),
        task_queue=task_queue,
    )  # fmt: skip


async def _start_once(client: Client, run: Any, arg: Any, *, id: str, task_queue: str) -> bool:
    """Start a workflow named by what it does once: a run that failed or was terminated is run
    again; False when one runs or completed already."""
    try:
        await client.start_workflow(
            run, arg, id=id, task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )  # fmt: skip
    except WorkflowAlreadyStartedError:
        return False
    return True


REVIEW_SCHEDULE = "reviews-daily"


def review_workflow_id(review_no: str) -> str:
    return f"review-{review_no}"


async def start_review(client: Client, start: ReviewStart, *, task_queue: str) -> bool:
    """Start the review's workflow, named by its number: False when it runs or ran already."""
    return await _start_once(
        client, ReviewWorkflow.run, start, id=review_workflow_id(start.review_no),
        task_queue=task_queue,
    )  # fmt: skip


async def ensure_review_schedule(client: Client, *, task_queue: str, hour: int) -> None:
    """The Schedule that opens, each day at ``hour`` (Asia/Shanghai), the periodic reviews
    falling due (one timer for the whole register, not one per household)."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ReviewRoundWorkflow.run, ReviewRound(), id="reviews-round", task_queue=task_queue
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)])],
            time_zone_name="Asia/Shanghai",
        ),
    )
    with contextlib.suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(REVIEW_SCHEDULE, schedule)


def referral_workflow_id(referral_no: str) -> str:
    return f"referral-{referral_no}"


async def start_referral(client: Client, start: ReferralStart, *, task_queue: str) -> None:
    """Start the referral's deadline, named by its number."""
    await client.start_workflow(
        ReferralWorkflow.run,
        start,
        id=referral_workflow_id(start.referral_no),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
