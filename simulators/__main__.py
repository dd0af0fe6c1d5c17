"""``python -m simulators --host 127.0.0.1 --port 8100 [--db PATH]``"""

import argparse

import uvicorn

from simulators.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument(
        "--db", help="SQLite file (default: $JIUZHU_SIMULATOR_DB or var/simulators.db)"
    )
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.db),
        host=args.host,
        port=args.port,
        log_level="warning",
        # An answer held back by a delay fault (up to 120 s) must not hold up a stop.
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
