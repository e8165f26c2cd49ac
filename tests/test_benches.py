"""Every benchmark runs: each in its --smoke mode (tiny inputs; its figures are not asserted),
so `make bench` does not rot with refactors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
HELPERS = {"measure.py"}  # imported by the benches, not one of them
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if p.name not in HELPERS)


def test_every_bench_has_a_smoke_mode() -> None:
    assert SCRIPTS
    missing = [s for s in SCRIPTS if "--smoke" not in (BENCH / s).read_text()]
    assert not missing, missing


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_smoke(script: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke"],
        cwd=BENCH,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert done.stdout.strip(), "a bench prints its figures"
