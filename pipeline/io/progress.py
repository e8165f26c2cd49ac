"""Progress of annotate and build: a bar with ETA for videos done of all (media hours and
failures so far alongside) while the DirectRunner runs the pipeline in this process, where its
steps can reach the driver's bar. Other runners run the steps elsewhere; there annotate's line
per committed wave, and build's counters at the end, are the progress."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

_bar: Any = None
_hours = 0.0
_failures = 0


@contextlib.contextmanager
def annotate_bar(total: int, desc: str = "annotate") -> Iterator[None]:
    global _bar, _hours, _failures
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    _bar, _hours, _failures = tqdm(total=total, desc=desc, unit="video", disable=None), 0.0, 0
    try:
        with logging_redirect_tqdm():  # log lines print above the bar, not through it
            yield
    finally:
        _bar.close()
        _bar = None


def _show() -> None:
    _bar.set_postfix_str(f"{_hours:.2f} h of media, {_failures} failed", refresh=False)


def video_done(row: dict[str, Any]) -> dict[str, Any]:
    """In the graph after a video row: one more video (and its hours) on the bar."""
    global _hours
    if _bar is not None:
        _hours += row["duration_ms"] / 3.6e6
        _show()
        _bar.update(1)
    return row


def video_built(duration_ms: int) -> None:
    """In build, after a video's samples: one more video (and its hours) on the bar."""
    global _hours
    if _bar is not None:
        _hours += duration_ms / 3.6e6
        _bar.set_postfix_str(f"{_hours:.2f} h of media", refresh=False)
        _bar.update(1)


def source_failed(row: dict[str, Any]) -> dict[str, Any]:
    """In the graph after a failure row: a source that failed whole counts as done."""
    global _failures
    if _bar is not None:
        _failures += 1
        _show()
        if row.get("stage") in ("download", "probe", "search"):
            _bar.update(1)
    return row
