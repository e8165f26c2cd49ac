"""Words of a text and the word error rate between two texts: one tokenizer for every
signal, metric and quality flag, so "the WER" and "a word" mean the same everywhere."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def words(text: str) -> list[str]:
    """Lower-case words in any script; a typographic apostrophe is the ASCII one (U+2019
    reads as ')."""
    return [w.lower() for w in _WORD.findall(text.translate(_APOSTROPHES))]


def word_edits(hypothesis: str, reference: str) -> tuple[int, int]:
    """(word edit distance, reference words): the parts of a WER, so a corpus WER can sum
    them. jiwer's C-backed alignment where it is installed (a transcript against its
    subtitles is thousands of words each way); the same distance in plain Python where it is
    not (the scorer copied into an lmms-eval task folder runs in their venv)."""
    hyp, ref = words(hypothesis), words(reference)
    if not hyp or not ref:
        return max(len(hyp), len(ref)), len(ref)
    try:
        import jiwer
    except ImportError:
        return _levenshtein(hyp, ref), len(ref)
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return out.substitutions + out.deletions + out.insertions, len(ref)


def _levenshtein(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def wer(hypothesis: str, reference: str) -> float:
    """Word error rate; with no reference words, 0 for no words and 1 for any."""
    edits, n = word_edits(hypothesis, reference)
    return edits / n if n else float(edits > 0)
