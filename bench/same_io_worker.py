"""The "bare, same I/O" mirror's worker, a process of its own as jiuzhu's worker is (so that
neither shares its process with the bench's drivers): ``python -m bench.same_io_worker QUEUE``.

It reads the stack's settings from the environment the bench set, says ``ready`` on stdout
once polling, and stops on SIGTERM.
"""

import asyncio
import signal
import subprocess
import sys

from temporalio.worker import Worker

from activities.external import ExternalActivities
from activities.records import RecordActivities
from bench import BenchError
from bench.baselines import plain_client
from bench.same_io import SameIOCase
from logs import configure_logging
from settings import Settings

READY = "ready"


async def serve(task_queue: str) -> None:
    settings = Settings()
    client = await plain_client(settings)
    records = RecordActivities(database_url=settings.database_url, ring=settings.key_ring())
    external = ExternalActivities(
        payment_url=settings.payment_url,
        sms_url=settings.sms_url,
        verification_url=settings.verification_url,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[SameIOCase],
            activities=[
                records.record_transition,
                records.register_household,
                external.verify_household,
                external.notify_applicant,
                external.make_payment,
            ],
        ):
            print(READY, flush=True)
            await stop.wait()
    finally:
        await external.close()


def start(task_queue: str) -> subprocess.Popen:
    """The worker's process, once it polls the task queue (stop it with ``terminate``)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.same_io_worker", task_queue],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline().strip()  # blocks until ready, or empty once it died
    if line != READY:
        process.kill()
        process.wait()
        raise BenchError(f"the same-I/O worker did not start: {line!r} ({process.returncode})")
    return process


if __name__ == "__main__":
    configure_logging(level="WARNING", process="bench-worker", stream=sys.stderr)
    asyncio.run(serve(sys.argv[1]))
