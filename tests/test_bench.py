"""``make bench`` at a tiny size: it drives jiuzhu and its three mirrors and reports jiuzhu
against each, a ratio a line. A mirror that stops running fails the bench (no report)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = 3
RATIOS = [
    "throughput ratio API / bare same I/O",
    "p99 ratio all actions / bare same I/O update p99",
    "throughput ratio API / bare",
    "p99 ratio all actions / bare update p99",
    "throughput ratio API / minimal",
    "p99 ratio all actions / minimal update p99",
]


def test_the_bench_reports_jiuzhu_against_its_three_mirrors():
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIUZHU_")}
    options = f"--cases {CASES} --concurrency 2 --open-cases 0 --burst 0 --emergencies 0"
    run = subprocess.run(
        [sys.executable, "-m", "bench", *options.split()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = run.stdout
    for ratio in RATIOS:
        found = re.search(rf"^  {re.escape(ratio)}: (\d+\.\d\d)$", report, re.MULTILINE)
        assert found, f"no line '{ratio}: <number>' in:\n{report}"
        assert float(found.group(1)) > 0
    # Each mirror ran every case: three updates a case, timed.
    sections = re.findall(r"^    all updates +n=(\d+) ", report, re.MULTILINE)
    assert sections == [str(3 * CASES)] * 3, report
    assert re.search(rf"^    all actions +n={4 * CASES} ", report, re.MULTILINE), report
    assert f'reproduce: make bench ARGS="{options}"' in report
