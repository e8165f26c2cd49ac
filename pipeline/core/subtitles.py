"""Uploaded subtitles as a reference transcript, and ASR word error rate against it."""

from __future__ import annotations

import re

from pipeline.core.text import wer, words

_TAG = re.compile(r"<[^>]*>")
_TIMING = re.compile(r"^\d{2}:\d{2}(:\d{2})?\.\d{3} --> ")


def vtt_text(vtt: str) -> str:
    """The spoken text of a WebVTT file: cue text without tags, header or timings; the rolling
    lines of YouTube's automatic captions (each line shown twice) are kept once."""
    lines: list[str] = []
    in_header = True
    for raw in vtt.splitlines():
        line = raw.strip()
        if in_header:
            if not line:
                in_header = False
            continue
        if not line or _TIMING.match(line) or line.isdigit() or line.startswith("NOTE"):
            continue
        text = " ".join(_TAG.sub("", line).split())
        if text and (not lines or lines[-1] != text):
            lines.append(text)
    return " ".join(lines)


def word_error_rate(reference: str, hypothesis: str) -> float | None:
    """WER of the ASR text against the reference (None when there is no reference text)."""
    return wer(hypothesis, reference) if words(reference) else None
