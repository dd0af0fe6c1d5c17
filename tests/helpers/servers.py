"""Real servers on free loopback ports."""

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

# Not the module's generator: pytest-randomly seeds it alike before every test, and these
# numbers must differ between tests.
_unseeded = random.SystemRandom()


@contextmanager
def serve(
    app, *, host: str = "127.0.0.1", log_level: str = "warning", factory: bool = False
) -> Iterator[str]:
    """Serve an ASGI app (or, with ``factory``, what a factory makes, as ``uvicorn --factory``
    does) over real HTTP on a free port, in a thread; yields its base URL."""
    # Named TCP, not left to default (proto 0): only then does asyncio set TCP_NODELAY on each
    # connection, without which every answer in two writes waits ~40 ms on a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((host, 0))
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", factory=factory)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "server failed to start"
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range, where the Temporal dev server
    and other processes pick their own random ports: none of them takes it from under us."""
    for _ in range(200):
        port = _unseeded.randint(20000, 30000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")
