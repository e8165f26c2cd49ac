"""Language of a transcript's text with py3langid, whose model ships inside the package (it
runs offline). Under an English-only ASR, foreign speech comes out as English words that do
not make sense; the identifier's confidence in English then drops well below that of real
English text, which is the signal."""

from __future__ import annotations

import functools
import os


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid import langid

    return langid.LanguageIdentifier.from_modelpath(
        os.path.join(langid.MODEL_DIR, langid.MODEL_FILE), norm_probs=True
    )


def identify(text: str) -> tuple[str, float] | None:
    """(ISO 639-1 code, probability), or None for text too short to tell."""
    if len(text.split()) < 3:
        return None
    lang, prob = _identifier().classify(text)
    return lang, float(prob)
