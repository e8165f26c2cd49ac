"""The whole loop on CPU (tests/clients/test_loop.py: plan two arms, train the tiny Qwen2-VL
with LLaMA-Factory's and ms-swift's own trainers, `eval run --model-path`, `experiment score`):
its wall time per trainer, which the test itself does not assert. Needs `make test-clients`'
venvs.

usage: python bench/loop.py
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="collect the loop's test only (no trainer venvs)"
    )
    args = parser.parse_args()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(ROOT / "tests" / "clients" / "test_loop.py"),
            "--collect-only" if args.smoke else "--durations=0",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    if done.returncode:
        sys.exit(done.stdout[-3000:] + done.stderr[-3000:])
    if args.smoke:
        print(done.stdout.strip().splitlines()[-1])  # "N tests collected"
        return
    for line in done.stdout.splitlines():
        if m := re.match(r"\s*([\d.]+)s (call|setup)\s+\S+::(\S+)", line):
            print(f"loop {m.group(3)} ({m.group(2)}): {float(m.group(1)):.1f} s")


if __name__ == "__main__":
    main()
