"""The Temporal worker: runs the case workflows and their activities. Scale by running more."""

import asyncio
import signal
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

import telemetry
from activities.external import ExternalActivities
from activities.payroll import PayrollActivities
from activities.records import RecordActivities, ReserveActivities
from activities.referrals import ReferralActivities
from activities.retry_marks import RetryMarks
from activities.reviews import ReviewActivities
from activities.standards import StandardActivities
from logs import configure_logging
from settings import Settings, get_settings
from store.db import Database
from watches.audit_trail import watch_audit_trail
from watches.engine import watch_engine
from watches.halted import watch_halted_cases
from watches.id_numbers import watch_id_numbers
from watches.payroll import watch_payroll
from workflows.application import ApplicationWorkflow
from workflows.client import connect, ensure_payroll_schedule, ensure_review_schedule
from workflows.emergency import EmergencyWorkflow
from workflows.payroll import PayrollWorkflow, ReissueWorkflow, TownshipPayrollWorkflow
from workflows.referral import ReferralWorkflow
from workflows.review import ReviewRoundWorkflow, ReviewWorkflow
from workflows.standards import StandardChangeWorkflow

WORKFLOWS = [
    ApplicationWorkflow,
    EmergencyWorkflow,
    PayrollWorkflow,
    TownshipPayrollWorkflow,
    ReissueWorkflow,
    StandardChangeWorkflow,
    ReviewWorkflow,
    ReviewRoundWorkflow,
    ReferralWorkflow,
]

log = structlog.get_logger()


def create_worker(
    client: Client, settings: Settings, *, task_queue: str | None = None, **options: Any
) -> tuple[Worker, ExternalActivities]:
    """The worker with the workflows, the activities or both (``settings.worker_runs``); close
    the returned activities after it. ``options``: more of ``Worker``'s (a test's)."""
    records = RecordActivities(database_url=settings.database_url, ring=settings.key_ring())
    reserve = ReserveActivities(database_url=settings.database_url, ring=settings.key_ring())
    external = ExternalActivities(
        payment_url=settings.payment_url,
        sms_url=settings.sms_url,
        verification_url=settings.verification_url,
        timeout=settings.external_timeout_seconds,
    )
    payroll = PayrollActivities(
        database_url=settings.database_url,
        payment_url=settings.payment_url,
        sms_url=settings.sms_url,
        ring=settings.key_ring(),
        http=external.http,
    )
    standards = StandardActivities(
        database_url=settings.database_url,
        sms_url=settings.sms_url,
        policy=settings.policy,
        ring=settings.key_ring(),
        http=external.http,
    )
    reviews = ReviewActivities(
        database_url=settings.database_url,
        ring=settings.key_ring(),
        client=client,
        task_queue=task_queue or settings.task_queue,
        policy=settings.policy,
    )
    referrals = ReferralActivities(database_url=settings.database_url)
    activities = [
        referrals.referral_event,
        reviews.decide_review,
        reviews.open_due_reviews,
        records.record_transition,
        records.register_household,
        records.notify_staff,
        records.compute_deadlines,
        records.add_working_days,
        reserve.hold_reserve,
        reserve.settle_reserve,
        reserve.release_reserve,
        external.verify_household,
        external.notify_applicant,
        external.make_payment,
        payroll.open_payroll,
        payroll.make_payroll_items,
        payroll.send_batch,
        payroll.settle_batch,
        payroll.tell_batch,
        payroll.close_payroll,
        payroll.reissue_order,
        payroll.record_reissue,
        standards.apply_standard,
        standards.close_standard_change,
    ]
    runs = settings.worker_runs
    worker = Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS if runs != "activities" else [],
        activities=activities if runs != "workflows" else [],
        interceptors=[RetryMarks(Database(settings.database_url))],
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_seconds),
        **options,
    )
    return worker, external


async def main() -> None:
    settings = get_settings()
    configure_logging(fmt=settings.log_format, level=settings.log_level, process="worker")
    provider = telemetry.tracer_provider(settings.tracing_endpoint, service="jiuzhu-worker")
    client = await connect(
        settings.temporal_address,
        settings.temporal_namespace,
        ring=settings.key_ring(),
        # Made on this client, the worker traces workflows and activities too.
        interceptors=telemetry.temporal_interceptors(telemetry.tracer(provider)),
        runtime=telemetry.temporal_runtime(settings.worker_metrics_address),
    )
    worker, external = create_worker(client, settings)
    await ensure_payroll_schedule(
        client,
        task_queue=settings.task_queue,
        day=settings.payroll_day,
        hour=settings.payroll_hour,
        batch_size=settings.payroll_batch_size,
        townships_at_once=settings.payroll_townships_at_once,
    )
    await ensure_review_schedule(
        client, task_queue=settings.task_queue, hour=settings.review_round_hour
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker.started",
        runs=settings.worker_runs,
        task_queue=settings.task_queue,
        temporal=settings.temporal_address,
        metrics=settings.worker_metrics_address or "off",
        tracing=provider is not None,
    )
    db = Database(settings.database_url)
    every = timedelta(seconds=settings.halted_watch_seconds)
    # The watches read and write the case records: they go with the activities.
    watches = (
        []
        if settings.worker_runs == "workflows"
        else [
            asyncio.create_task(
                watch_halted_cases(
                    client,
                    db,
                    external,
                    ring=settings.key_ring(),
                    every=every,
                    reconcile_after=timedelta(seconds=settings.reconcile_after_seconds),
                )
            ),
            asyncio.create_task(watch_audit_trail(db, every=every)),
            asyncio.create_task(watch_id_numbers(db, ring=settings.key_ring(), every=every)),
            asyncio.create_task(watch_engine(client, db, every=every)),
            asyncio.create_task(
                watch_payroll(
                    client,
                    db,
                    ring=settings.key_ring(),
                    task_queue=settings.task_queue,
                    every=every,
                )  # fmt: skip
            ),
        ]
    )
    async with worker:
        await stop.wait()
        log.info("worker.stopping")
    for watch in watches:
        watch.cancel()
    await external.close()
    if provider:
        provider.shutdown()  # the last spans leave


if __name__ == "__main__":
    asyncio.run(main())
