"""Curation signals as plain functions: what a transcript, a sentence or a keyframe says
about its own quality. No model runs here; OCR, faces and language ID hand their results in.

Sources of the measures: compression ratio and word probabilities are whisper's own
hallucination checks (its decoder falls back above a gzip ratio of 2.4 and below a mean log
probability of -1); the phrase list is the community's list of whisper's known outputs on
non-speech; perceptual hashes are the dHash of Krawetz ("Kind of Like That", 2013); the
transcript fingerprint is Charikar's simhash over word 3-grams.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from pipeline.core.text import words as words_of  # (`words` names lists here)

# Whisper's classic outputs on music, noise and silence (lower case, no punctuation).
HALLUCINATIONS = frozenset(
    {
        "you",
        "thank you",
        "thank you so much",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "thanks for watching and see you next time",
        "please subscribe",
        "subscribe to my channel",
        "like and subscribe",
        "bye",
        "bye bye",
        "see you next time",
        "see you in the next video",
        "i ll see you next time",
        "thank you so much for watching and i ll see you next time",
        "music",
        "applause",
        "silence",
        "you thank you",
        "thank you you",
    }
)


def compression_ratio(text: str) -> float:
    """Bytes over zlib-compressed bytes: repetitive text compresses far better than speech."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def repeated_ngram_fraction(words: Sequence[str], n: int = 3) -> float:
    """Share of the n-grams that occur more than once."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    counts = Counter(grams)
    return sum(c for c in counts.values() if c > 1) / len(grams)


def longest_repeat(words: Sequence[str], max_n: int = 4) -> int:
    """The most times one n-gram (n <= max_n) follows itself ("NASA, NASA, NASA" is 3)."""
    best = 1 if words else 0
    for n in range(1, max_n + 1):
        i = 0
        while i + n <= len(words):
            run, j = 1, i + n
            while j + n <= len(words) and words[j : j + n] == words[i : i + n]:
                run, j = run + 1, j + n
            best = max(best, run)
            i += 1
    return best


def is_hallucination(text: str) -> bool:
    """The whole text is one of whisper's known non-speech outputs (or a run of them)."""
    norm = " ".join(words_of(text))
    if not norm:
        return False
    if norm in HALLUCINATIONS:
        return True
    parts = [p for p in re.split(r"\b(?=thank you|you\b)", norm) if p.strip()]
    return all(p.strip() in HALLUCINATIONS for p in parts)


def sentence_signals(
    text: str, scores: Sequence[float], start_ms: int, end_ms: int
) -> dict[str, float | int | bool | None]:
    words = words_of(text)
    seconds = max(end_ms - start_ms, 1) / 1000
    return {
        "word_score_min": min(scores) if scores else None,
        "repeated_ngram_fraction": repeated_ngram_fraction(words),
        "longest_repeat": longest_repeat(words),
        "compression_ratio": compression_ratio(text),
        "hallucination": is_hallucination(text),
        "words_per_second": len(words) / seconds,
    }


def speech_signals(
    texts: Sequence[str], scores: Sequence[float], speech_ms: int, duration_ms: int
) -> dict[str, float | int | None]:
    """Video-level speech measures over all its sentences."""
    words = [w for t in texts for w in words_of(t)]
    hallucinated = sum(is_hallucination(t) for t in texts)
    return {
        "speech_coverage": min(speech_ms / duration_ms, 1.0) if duration_ms else 0.0,
        "words_per_second": len(words) / (speech_ms / 1000) if speech_ms else 0.0,
        "word_score_mean": float(np.mean(scores)) if scores else None,
        "hallucination_fraction": hallucinated / len(texts) if texts else 0.0,
        "longest_repeat": longest_repeat(words),
        "transcript_fingerprint": simhash(words) if len(words) >= 3 else None,
    }


def dhash(gray: np.ndarray) -> int:
    """64-bit difference hash of a grey picture: which of neighbouring cells is brighter on a
    9x8 grid. Survives scaling and re-encoding; a signed int64 so Parquet keeps it."""
    h, w = gray.shape
    ys = np.linspace(0, h, 9, dtype=int)
    xs = np.linspace(0, w, 10, dtype=int)
    cells = np.array(
        [[gray[ys[i] : ys[i + 1], xs[j] : xs[j + 1]].mean() for j in range(9)] for i in range(8)]
    )
    bits = (cells[:, 1:] > cells[:, :-1]).flatten()
    value = int("".join("1" if b else "0" for b in bits), 2)
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    return bin((a ^ b) & ((1 << 64) - 1)).count("1")


def picture_change_bits(hashes: Sequence[int] | None) -> int | None:
    """How far apart a video's most different keyframes are (dHash bits): a few bits for one
    picture throughout, tens for different pictures. None when not measured."""
    if not hashes:
        return None
    return max((hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]), default=0)


def simhash(words: Sequence[str], n: int = 3) -> int:
    """64-bit simhash of the word n-grams: near-identical transcripts differ in few bits."""
    weights = np.zeros(64)
    for i in range(max(len(words) - n + 1, 1)):
        gram = " ".join(words[i : i + n]).encode("utf-8")
        h = int.from_bytes(hashlib.blake2b(gram, digest_size=8).digest(), "big")
        weights += np.where([(h >> k) & 1 for k in range(64)], 1.0, -1.0)
    value = sum(1 << k for k in range(64) if weights[k] > 0)
    return value - (1 << 64) if value >= 1 << 63 else value


def text_overlap(screen: str, spoken: Iterable[str], min_len: int = 4) -> float | None:
    """Share of the spoken words (of min_len letters or more) that are also on screen: burned-in
    subtitles show what is said. None when nothing was said then."""
    said = [w for t in spoken for w in words_of(t) if len(w) >= min_len]
    if not said:
        return None
    shown = set(words_of(screen))
    return sum(w in shown for w in said) / len(said)
