"""The bench's own stack: free ports, the environment that points every part at them, and a
check that what answers on them is ours."""

import os
import random
import socket
import time
from pathlib import Path

import httpx

from bench import BenchError
from settings import Settings
from stack import EmbeddedStack


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out for bind(0): where other processes' random ports come from."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(taken: set[int], *, also_free_at: int = 0) -> int:
    """A free loopback port below the ephemeral range; with ``also_free_at``, port + that too.

    Below the ephemeral range, because the Temporal dev server picks its HTTP and metrics ports
    at random from that range after we chose ours, and tests running alongside do the same.
    """
    low = 20000
    high = min(ephemeral_range()[0], 65536) - 1 - also_free_at
    if high <= low:
        low, high = 10000, 20000
    for _ in range(1000):
        port = random.randint(low, high)
        wanted = [port, port + also_free_at] if also_free_at else [port]
        if not taken.intersection(wanted) and all(port_is_free(p) for p in wanted):
            taken.update(wanted)
            return port
    raise BenchError("no free port found")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def configure_environment(var: Path, database_url: str | None) -> dict[str, str]:
    """Point every part of the stack at the bench's own ports and files (before Settings())."""
    taken: set[int] = set()
    temporal_port = free_port(taken, also_free_at=1000)  # the dev server's Web UI is on port + 1000
    api_port = free_port(taken)
    simulator_port = free_port(taken)
    env = {
        "JIUZHU_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "JIUZHU_API_HOST": "127.0.0.1",
        "JIUZHU_API_PORT": str(api_port),
        "JIUZHU_PAYMENT_URL": f"http://127.0.0.1:{simulator_port}/payment",
        "JIUZHU_SMS_URL": f"http://127.0.0.1:{simulator_port}/sms",
        "JIUZHU_VERIFICATION_URL": f"http://127.0.0.1:{simulator_port}/verification",
        "JIUZHU_DATABASE_URL": database_url or f"sqlite:///{var / 'jiuzhu.db'}",
        "JIUZHU_LOG_LEVEL": "WARNING",
        "JIUZHU_POLICY__NOTICE_CALENDAR_DAYS": "0",
    }
    os.environ.update(env)
    return env


def verify_stack(stack: EmbeddedStack, settings: Settings) -> None:
    """Every part still running, and our API and simulators (not something else) on their ports."""
    time.sleep(1)  # a part that could not bind its port exits at once
    for name, process in stack.processes:
        if process.poll() is not None:
            raise BenchError(f"the {name} process exited with {process.returncode} on start")
    for what, url in (
        ("API", f"http://{settings.api_host}:{settings.api_port}/health"),
        ("simulators", settings.payment_url.rsplit("/", 1)[0] + "/health"),
    ):
        response = httpx.get(url, timeout=10)
        if response.status_code != 200 or response.json().get("status") != "ok":
            raise BenchError(
                f"{url} is not the {what}: {response.status_code} {response.text[:200]}"
            )
