"""``make bench`` (``python -m bench``): the command line; see the package's docstring."""

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import bench
from bench import console, payroll, reviews
from bench.measure import measure
from bench.report import print_report
from bench.startup import configure_environment, verify_stack
from logs import configure_logging
from settings import Settings
from stack import EmbeddedStack

ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=bench.__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases", type=int, default=200, help="complete cases per path (default 200)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=10, help="concurrent caseworkers (default 10)"
    )
    parser.add_argument(
        "--open-cases",
        type=int,
        default=1000,
        help="open cases for the memory figure (default 1000)",
    )
    parser.add_argument(
        "--burst", type=int, default=50, help="intakes sent at one moment (default 50; 0: none)"
    )
    parser.add_argument(
        "--emergencies", type=int, default=100, help="emergencies paid (default 100; 0: none)"
    )
    parser.add_argument(
        "--database-url", help="an empty database for the stack (default: SQLite in a temp dir)"
    )
    parser.add_argument(
        "--cases-when-loaded",
        type=int,
        default=0,
        help="complete cases driven once the open cases wait, to compare their p99 (default 0)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes on the task queue (default 1)"
    )
    parser.add_argument(
        "--payroll",
        type=int,
        default=0,
        metavar="HOUSEHOLDS",
        help="instead: one month's payroll of this many households (bench/payroll.py)",
    )
    parser.add_argument(
        "--reviews",
        type=int,
        default=0,
        metavar="HOUSEHOLDS",
        help="instead: one day's review round over a register of this many (bench/reviews.py)",
    )
    parser.add_argument(
        "--all-due", action="store_true", help="with --reviews: every review due today"
    )
    parser.add_argument(
        "--console",
        type=int,
        default=0,
        metavar="CASES",
        help="instead: the web console's pages with this many cases in the records "
        "(bench/console.py)",
    )
    parser.add_argument(
        "--repeat", type=int, default=30, help="--console: calls a page (default 30)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary var directory")
    args = parser.parse_args()
    if (
        args.cases < 1
        or args.concurrency < 1
        or args.open_cases < 0
        or args.emergencies < 0
        or not 0 <= args.burst <= 500
        or args.payroll < 0
        or args.reviews < 0
    ):
        parser.error(
            "--cases and --concurrency must be at least 1, --open-cases at least 0, "
            "--burst from 0 to 500, --payroll at least 0"
        )
    return args


def main() -> int:
    args = parse_args()
    if args.console:
        configure_logging(level="WARNING", process="bench")
        return console.main(args.console, args.repeat, args.database_url)
    os.chdir(ROOT)  # the stack starts `python worker.py` and `python -m simulators` from here
    options = (
        f"--payroll {args.payroll}"
        if args.payroll
        else f"--reviews {args.reviews}" + (" --all-due" if args.all_due else "")
        if args.reviews
        else f"--cases {args.cases} --concurrency {args.concurrency} --open-cases {args.open_cases} "
        f"--burst {args.burst} --emergencies {args.emergencies}"
        + (f" --cases-when-loaded {args.cases_when_loaded}" if args.cases_when_loaded else "")
    ) + (
        (f" --workers {args.workers}" if args.workers != 1 else "")
        + (f" --database-url {args.database_url}" if args.database_url else "")
    )
    command = f'make bench ARGS="{options}"   (or: .venv/bin/python -m bench {options})'

    started_load = os.getloadavg()
    var = Path(tempfile.mkdtemp(prefix="jiuzhu-bench-"))
    env = configure_environment(var, args.database_url)
    configure_logging(level="WARNING", process="bench")
    settings = Settings()
    stack = EmbeddedStack(settings, var=var, workers=args.workers)
    print(f"jiuzhu benchmark: starting a stack in {var} (public notice 0 days) ...", flush=True)
    failed = False
    try:
        stack.start()
        verify_stack(stack, settings)
        if args.payroll:
            results = asyncio.run(payroll.run(stack, settings, args.payroll))
        elif args.reviews:
            results = asyncio.run(reviews.run(stack, settings, args.reviews, all_due=args.all_due))
        else:
            results = asyncio.run(measure(stack, settings, args))
    except BaseException as error:
        failed = True
        if isinstance(error, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
        else:
            print(f"benchmark failed: {error!r}", file=sys.stderr)
            traceback.print_exc()
    finally:
        stack.stop()
        if args.keep:
            print(f"kept {var}")
        else:
            shutil.rmtree(var, ignore_errors=True)
    if failed:
        return 1
    if args.payroll or args.reviews:
        database = env["JIUZHU_DATABASE_URL"].split("://")[0]
        lines = (payroll if args.payroll else reviews).report(results, database=database)
        print("\n".join([*lines, f"reproduce: {command}"]))
    else:
        print_report(results, env, command, started_load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
