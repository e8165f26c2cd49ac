"""yt-dlp's error messages sorted into reasons, and whether trying again can help.

The patterns come from real yt-dlp output (tests run them over the recorded messages in
tests/fixtures/youtube). Transient: rate limits, 403s (expired format URLs, missing PO tokens), 5xx,
timeouts, bot checks, empty downloads. Permanent: private, removed, terminated, members-only,
age-gated, geo-blocked, 404. Unknown messages count as permanent: a retry loop on an error
nobody understood only spends the rate limit.
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[str, bool, str], ...] = (
    ("bot_check", True, r"confirm you.re not a bot"),
    ("age_restricted", False, r"confirm your age|age.restricted|inappropriate for some users"),
    ("members_only", False, r"members.only|join this channel"),
    ("private", False, r"private video|this video is private"),
    (
        "geo_restricted",
        False,
        r"not made this video available in your country|"
        r"not available in your country|geo.?restrict",
    ),
    ("removed_terms_of_service", False, r"violating youtube.s terms of service"),
    ("removed_by_uploader", False, r"removed by the uploader"),
    ("account_terminated", False, r"account associated with this video has been terminated"),
    ("http_429", True, r"http error 429|too many requests"),
    ("http_403", True, r"http error 403|forbidden"),
    ("http_5xx", True, r"http error 5\d\d"),
    ("http_404", False, r"http error 404|not found"),
    ("timeout", True, r"timed? ?out|read operation timed out"),
    ("empty_download", True, r"downloaded file is empty"),
    (
        "truncated",
        True,
        r"\d+ bytes read, \d+ more expected|downloaded \d+ bytes, "
        r"expected \d+ bytes|incompleteread|did not get any data blocks",
    ),
    (
        "connection",
        True,
        r"connection (refused|reset|aborted)|remote end closed|"
        r"name or service not known|temporary failure in name resolution",
    ),
    ("unavailable", False, r"video unavailable|content isn.t available|no longer available"),
)
_COMPILED = tuple(
    (name, transient, re.compile(rx, re.IGNORECASE)) for name, transient, rx in _RULES
)


def classify(message: str) -> tuple[str, bool]:
    """(reason, transient) for a yt-dlp error message."""
    for name, transient, rx in _COMPILED:
        if rx.search(message):
            return name, transient
    return "other", False
