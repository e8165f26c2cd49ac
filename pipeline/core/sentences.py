"""Sentences from timed words: SaT's character splits mapped back to words, or a fallback."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.records import Sentence, Word

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*$")
# Abbreviations whose period does not end a sentence.
_ABBREVIATIONS = frozenset(
    {"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "vs.", "etc.", "e.g.", "i.e.", "approx.", "no."}
)


def join_words(words: Sequence[Word]) -> tuple[str, list[int]]:
    """The text a segmenter sees (words joined by single spaces) and each word's first char."""
    starts: list[int] = []
    pos = 0
    for w in words:
        starts.append(pos)
        pos += len(w.text) + 1
    return " ".join(w.text for w in words), starts


def sentences_from_pieces(words: Sequence[Word], pieces: Sequence[str]) -> tuple[Sentence, ...]:
    """Map a segmenter's split of `join_words(words)` back to words.

    `pieces` must concatenate to the joined text (SaT's split does, whitespace kept). A word
    belongs to the piece holding its first character, so a split inside a word moves the
    whole word rather than cutting it; pieces with no word start are dropped.
    """
    text, starts = join_words(words)
    if "".join(pieces) != text:
        raise ValueError("segmenter pieces do not reassemble the transcript text")
    bounds: list[int] = []
    pos = 0
    for piece in pieces:
        pos += len(piece)
        bounds.append(pos)
    groups: list[list[Word]] = [[] for _ in pieces]
    piece = 0
    for word, start in zip(words, starts, strict=True):
        while start >= bounds[piece]:
            piece += 1
        groups[piece].append(word)
    return _number([g for g in groups if g])


def split_on_punctuation_and_pauses(
    words: Sequence[Word], max_pause_ms: int = 1000, max_words: int = 60
) -> tuple[Sentence, ...]:
    """The fallback segmenter: end a sentence at terminal punctuation, a long pause, or a cap."""
    groups: list[list[Word]] = []
    current: list[Word] = []
    for i, word in enumerate(words):
        current.append(word)
        nxt = words[i + 1] if i + 1 < len(words) else None
        ends = bool(_SENTENCE_END.search(word.text)) and word.text.lower() not in _ABBREVIATIONS
        pause = nxt is not None and nxt.start_ms - word.end_ms >= max_pause_ms
        if nxt is None or ends or pause or len(current) >= max_words:
            groups.append(current)
            current = []
    return _number(groups)


def _number(groups: list[list[Word]]) -> tuple[Sentence, ...]:
    return tuple(Sentence(index=i, words=tuple(g)) for i, g in enumerate(groups))
