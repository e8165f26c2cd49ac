"""How long to wait before a retry: one rule for every retry loop (downloads, captions)."""

from __future__ import annotations

import random


def backoff_s(attempt: int, first_s: float, max_s: float, hint_s: float | None = None) -> float:
    """Seconds before retry `attempt` + 1 (attempt 0 failed first): what the server asked
    for (`hint_s`, a Retry-After) within `max_s`, else exponential from `first_s`, capped at
    `max_s`, with jitter (between half and all of it) so workers that failed together do not
    retry together."""
    if hint_s is not None:
        return min(hint_s, max_s)
    return min(first_s * 2**attempt, max_s) * (0.5 + random.random() / 2)
