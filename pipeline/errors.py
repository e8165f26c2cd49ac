"""The one base of every usage error: a command was asked for something it cannot do (a bad
flag, file, recipe, policy or format), so nothing was started and nothing was written. The CLI
turns any of them into one line on stderr and exit status 2; each module's subclass names what
was wrong, for callers that catch one kind."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad input to a command, found before any output was written: exit 2."""


SHOWN = 10  # items an error message lists before it says how many more


def listing(items: list[str]) -> str:
    """The first SHOWN items, one an indented line, and how many more: what an error that
    refuses several files names."""
    more = f"\n  ... and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return "  " + "\n  ".join(items[:SHOWN]) + more
