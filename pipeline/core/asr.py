"""ASR post-processing: raw word timings (seconds, segment-relative gaps) to timeline Words."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.records import Word


@dataclass(frozen=True)
class RawWord:
    """A word as an aligner returns it: seconds on the audio timeline, times may be missing."""

    text: str
    start_s: float | None
    end_s: float | None
    score: float | None
    segment_start_s: float
    segment_end_s: float


def to_ms(seconds: float) -> int:
    return round(seconds * 1000)


def _fill_gaps(raw: Sequence[RawWord]) -> list[tuple[float, float, bool]]:
    """Times for every word; a word the aligner could not place gets its neighbours' gap.

    Missing words share the span between the previous known end (or their segment's start)
    and the next known start (or their segment's end) in proportion to their length.
    """
    out: list[tuple[float, float, bool] | None] = [
        (w.start_s, w.end_s, False) if w.start_s is not None and w.end_s is not None else None
        for w in raw
    ]
    i = 0
    while i < len(raw):
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < len(raw) and out[j] is None and raw[j].segment_start_s == raw[i].segment_start_s:
            j += 1
        prev_end = out[i - 1][1] if i > 0 and out[i - 1] is not None else raw[i].segment_start_s
        prev_end = max(prev_end, raw[i].segment_start_s)
        nxt = out[j] if j < len(raw) else None
        same_segment = nxt is not None and raw[j].segment_start_s == raw[i].segment_start_s
        next_start = nxt[0] if same_segment else raw[i].segment_end_s
        next_start = max(next_start, prev_end)
        lengths = [max(len(w.text), 1) for w in raw[i:j]]
        total = sum(lengths)
        t = prev_end
        for k, n in zip(range(i, j), lengths, strict=True):
            span = (next_start - prev_end) * n / total
            out[k] = (t, t + span, True)
            t += span
        i = j
    return [o for o in out if o is not None]


def timeline_words(raw: Iterable[RawWord], audio_offset_ms: int) -> tuple[Word, ...]:
    """Words in int64 ms on the video timeline, monotonic, empty texts dropped."""
    raw = merge_punctuation(list(raw))
    words: list[Word] = []
    for w, (start, end, interpolated) in zip(raw, _fill_gaps(raw), strict=True):
        start_ms = to_ms(start) + audio_offset_ms
        end_ms = max(to_ms(end) + audio_offset_ms, start_ms)
        if words and start_ms < words[-1].start_ms:
            start_ms = words[-1].start_ms
            end_ms = max(end_ms, start_ms)
        words.append(
            Word(
                text=w.text.strip(),
                start_ms=start_ms,
                end_ms=end_ms,
                score=None if interpolated else w.score,
                interpolated=interpolated,
            )
        )
    return tuple(words)


def speech_ms(segments: Iterable[tuple[float, float]]) -> int:
    return sum(max(to_ms(e) - to_ms(s), 0) for s, e in segments)


_PREPEND = "\"'“¿([{-"
_APPEND = "\"'.。,，!！?？:：”)]}、"


def merge_punctuation(raw: Sequence[RawWord]) -> list[RawWord]:
    """Attach punctuation-only tokens to their word, as faster-whisper's own output does.

    Whisper's word splitter leaves "." or "," as words of their own; a sentence splitter and a
    reader want "mat." instead. Appended marks keep the word's times, so do prepended ones.
    """
    out: list[RawWord] = []
    pending = ""
    for w in raw:
        text = w.text.strip()
        if not text:
            continue
        # A mark after a space opens (a quote before a word); one glued to a word closes.
        opens = w.text[:1].isspace() and all(c in _PREPEND for c in text)
        if not opens and all(c in _APPEND for c in text) and out and not pending:
            prev = out[-1]
            out[-1] = RawWord(
                prev.text + text,
                prev.start_s,
                prev.end_s,
                prev.score,
                prev.segment_start_s,
                prev.segment_end_s,
            )
        elif all(c in _PREPEND for c in text):
            pending += text
        else:
            out.append(
                RawWord(
                    pending + text, w.start_s, w.end_s, w.score, w.segment_start_s, w.segment_end_s
                )
            )
            pending = ""
    return out


def snap_onset(
    audio: np.ndarray,
    sample_rate: int,
    start_s: float,
    end_s: float,
    frame_s: float = 0.01,
    ratio: float = 0.1,
) -> float:
    """Move a word start forward to where sound begins within [start_s, end_s).

    Cross-attention word times put a segment's first word at the segment start, and VAD
    segments begin with padding; the first 10 ms frame louder than `ratio` of the span's
    loudest frame is where the word is actually heard.
    """
    a, b = int(start_s * sample_rate), int(end_s * sample_rate)
    span = audio[a:b]
    hop = max(int(frame_s * sample_rate), 1)
    n = len(span) // hop
    if n < 2:
        return start_s
    rms = np.sqrt(np.mean(span[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1))
    loud = np.flatnonzero(rms >= ratio * rms.max()) if rms.max() > 0 else np.array([])
    return start_s + float(loud[0]) * frame_s if loud.size else start_s


def audio_windows(
    audio: np.ndarray,
    sample_rate: int,
    window_s: float,
    search_s: float = 10.0,
    frame_s: float = 0.1,
) -> list[tuple[int, int]]:
    """Cut long audio into windows of about `window_s`, each cut at the quietest frame within
    `search_s` of its nominal place, so that a cut falls between words, not inside one.

    Long audio is transcribed a window at a time so that the word-timing fallback holds one
    window's encoder outputs, not a whole video's.
    """
    total = len(audio)
    size = int(window_s * sample_rate)
    if size <= 0 or total <= size:
        return [(0, total)]
    hop = max(int(frame_s * sample_rate), 1)
    reach = int(search_s * sample_rate)
    cuts = [0]
    while total - cuts[-1] > size:
        nominal = cuts[-1] + size
        lo, hi = max(cuts[-1] + hop, nominal - reach), min(total - hop, nominal + reach)
        n = (hi - lo) // hop
        if n < 1:
            cuts.append(nominal)
            continue
        frames = audio[lo : lo + n * hop].astype(np.float64).reshape(n, hop)
        quietest = int(np.argmin(np.mean(frames**2, axis=1)))
        cuts.append(lo + quietest * hop + hop // 2)
    return list(zip(cuts, [*cuts[1:], total], strict=True))


def shift_words(words: Iterable[RawWord], offset_s: float) -> list[RawWord]:
    """Words of a window moved onto the whole audio's timeline."""

    def at(t: float | None) -> float | None:
        return None if t is None else t + offset_s

    return [
        RawWord(
            w.text,
            at(w.start_s),
            at(w.end_s),
            w.score,
            w.segment_start_s + offset_s,
            w.segment_end_s + offset_s,
        )
        for w in words
    ]
