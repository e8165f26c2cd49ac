"""Language of a transcript's text with py3langid, whose model ships inside the package (it
runs offline). Under an English-only ASR, foreign speech comes out as English words that do
not make sense; the identifier's confidence in English then drops well below that of real
English text, which is the signal."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pipeline.models.handler import ModelHandler


@dataclass(frozen=True)
class LangIdHandler(ModelHandler[Any]):
    """py3langid's normalised identifier, loaded once per worker like every model."""

    config: None = None

    def load_model(self) -> Any:
        from py3langid import langid

        return langid.LanguageIdentifier.from_modelpath(
            os.path.join(langid.MODEL_DIR, langid.MODEL_FILE), norm_probs=True
        )


def identify(text: str, identifier: Any) -> tuple[str, float] | None:
    """(ISO 639-1 code, probability), or None for text too short to tell."""
    if len(text.split()) < 3:
        return None
    lang, prob = identifier.classify(text)
    return lang, float(prob)
