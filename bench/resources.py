"""What the processes use: resident memory (now and peak) and CPU seconds."""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench import BenchError
from stack import EmbeddedStack

MB = 1024 * 1024


@dataclass
class Memory:
    """Resident memory of one process, in MB: now (psutil) and its peak (VmHWM)."""

    rss: float
    peak: float


def memory_of(pid: int) -> Memory:
    rss = psutil.Process(pid).memory_info().rss / MB
    peak_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    return Memory(rss=rss, peak=peak_kb / 1024)


def memory_of_stack(stack: EmbeddedStack) -> dict[str, Memory]:
    for name, process in stack.processes:
        if process.poll() is not None:
            raise BenchError(
                f"the {name} process exited with {process.returncode} during the benchmark"
            )
    return {name: memory_of(process.pid) for name, process in stack.processes}


def cpu_snapshot(
    stack: EmbeddedStack, *, more: list[tuple[str, subprocess.Popen]] = ()
) -> dict[str, float]:
    """CPU seconds used so far by each part of the stack (and ``more`` processes), by this
    process, and by the machine."""
    seconds = {}
    for name, process in [*stack.processes, *more, ("bench", None)]:
        times = psutil.Process(process.pid if process else os.getpid()).cpu_times()
        seconds[name] = times.user + times.system
    machine = psutil.cpu_times()
    seconds["machine"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    return seconds


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds between two snapshots; 'other' is what processes outside the benchmark used."""
    used = {name: after[name] - before[name] for name in before}
    # Readings taken a moment apart: a tiny negative remainder means no other load.
    used["other"] = max(0.0, used.pop("machine") - sum(used.values()))
    return used
