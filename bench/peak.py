"""Run a module or a script and report its own peak RSS on stderr as `PEAK_RSS_MB <n>`.

The figure is VmHWM from /proc/self/status, which starts afresh at exec; a child's rusage
ru_maxrss does not (it keeps the parent's size at fork), so benchmarks measure this way.

  python bench/peak.py -m pipeline build ...     python bench/peak.py -c "code" ARGS
"""

from __future__ import annotations

import atexit
import runpy
import subprocess
import sys


def _report() -> None:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                print(f"PEAK_RSS_MB {int(line.split()[1]) // 1024}", file=sys.stderr)


def run_measured(args: list[str]) -> tuple[str, int]:
    """(stdout, peak RSS in MB) of `python bench/peak.py ARGS` in a fresh process."""
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=False)
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines()
            if line.startswith("PEAK_RSS_MB")]
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
        raise SystemExit("usage: peak.py -m MODULE ARGS | -c CODE ARGS")
