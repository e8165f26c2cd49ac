"""Quality flags on generated text: timestamp leakage and near-copies of the answer."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.core.text import words

_DIGITS = re.compile(r"\d")
_SECONDS = re.compile(r"\bsec(?:ond)?s?\b", re.IGNORECASE)
_CLOCK = re.compile(r"\b\d{1,2}:\d{2}\b")

OVERLAP_WORDS = 6  # a run of this many words of the answer inside the prompt is a leak


def leakage_flags(text: str) -> set[str]:
    """Digits, "second(s)" or mm:ss anywhere in the string."""
    flags = set()
    if _CLOCK.search(text):
        flags.add("leak_clock")
    if _DIGITS.search(text):
        flags.add("leak_digits")
    if _SECONDS.search(text):
        flags.add("leak_seconds")
    return flags


def verbatim_overlap(prompt: str, answer: str, n: int = OVERLAP_WORDS) -> bool:
    """True when any n consecutive words of the answer appear in the prompt."""
    a, p = words(answer), " ".join(words(prompt))
    return any(" ".join(a[i : i + n]) in p for i in range(len(a) - n + 1)) if p else False


def repeats_prompt(prompt: str, answer: str) -> bool:
    """True when the answer restates the whole prompt (the prompt's words, in order, inside
    the answer): the model would learn to echo the question rather than answer it."""
    p, a = " ".join(words(prompt)), " ".join(words(answer))
    return bool(p) and p in a


def flags_for(texts: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for t in texts:
        out |= leakage_flags(t)
    return out
