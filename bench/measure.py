"""Measuring helpers for the benchmarks: median wall time, CPU time, and peak RSS of a fresh
process.

As a script it runs a module or code and reports its own peak RSS on stderr as
`PEAK_RSS_MB <n>`.

The figure is VmHWM from /proc/self/status, which starts afresh at exec; a child's rusage
ru_maxrss does not (it keeps the parent's size at fork), so benchmarks measure this way.

  python bench/measure.py -m pipeline build ...     python bench/measure.py -c "code" ARGS
"""

from __future__ import annotations

import atexit
import resource
import runpy
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median of `repeats` timed calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cpu_seconds() -> float:
    """CPU seconds this process and its finished children (ffmpeg, tesseract) have used, on
    every core: against wall time, how many cores a step kept busy."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def with_cpu(fn: Callable[..., T], *args: object) -> tuple[T, float]:
    """fn(*args) and the CPU seconds it used (`cpu_seconds`)."""
    start = cpu_seconds()
    result = fn(*args)
    return result, cpu_seconds() - start


def _report() -> None:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                print(f"PEAK_RSS_MB {int(line.split()[1]) // 1024}", file=sys.stderr)


def run_measured(args: list[str]) -> tuple[str, int]:
    """(stdout, peak RSS in MB) of `python bench/measure.py ARGS` in a fresh process."""
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    peak = [
        int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_RSS_MB")
    ]
    if proc.returncode != 0 or not peak:
        raise SystemExit(f"{args} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout, peak[-1]


if __name__ == "__main__":
    atexit.register(_report)
    mode, target, *rest = sys.argv[1:]
    if mode == "-m":
        sys.argv = [target, *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    elif mode == "-c":
        sys.argv = ["-c", *rest]
        exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
    else:
        raise SystemExit("usage: measure.py -m MODULE ARGS | -c CODE ARGS")
