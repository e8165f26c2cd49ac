"""A minimum interval between download starts, shared by every worker process on a host.

Beam runs several workers per machine (DirectRunner multi_processing, Flink task slots, one
Dataflow VM's SDK processes); they share one lock file, so the pace holds for the machine, not
each worker. Across machines, give each the share of the account's budget it may use.
"""

from __future__ import annotations

import fcntl
import time
from pathlib import Path


def wait_turn(lock_file: Path, min_interval_s: float, clock=time.time, sleep=time.sleep) -> float:
    """Block until `min_interval_s` has passed since the last start on this host; returns the
    time waited. The lock is held while waiting, so starts queue up in order."""
    if min_interval_s <= 0:
        return 0.0
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0)
            text = f.read().strip()
            last = float(text) if text else 0.0
            waited = max(0.0, last + min_interval_s - clock())
            if waited:
                sleep(waited)
            f.seek(0)
            f.truncate()
            f.write(repr(clock()))
            f.flush()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
    return waited
