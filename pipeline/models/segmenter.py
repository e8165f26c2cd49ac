"""Sentence segmentation over ASR words: wtpsplit SaT, or the punctuation + pause fallback."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.sentences import (
    join_words,
    sentences_from_pieces,
    split_on_punctuation_and_pauses,
)
from pipeline.core.settings import Flag, setting
from pipeline.models import ModelLoadError
from pipeline.models.handler import ModelHandler
from pipeline.records import Sentence, Word

log = logging.getLogger(__name__)

DEFAULT_SAT = "sat-3l-sm"
FALLBACK = "punctuation-pause"


@dataclass(frozen=True)
class SegmenterConfig:
    """`model`: auto, punctuation, a SaT hub name (sat-3l-sm) or a local SaT folder."""

    model: str = setting(
        "auto",
        flag=Flag(
            "segmenter", "auto, punctuation, a SaT model name (sat-3l-sm) or a local SaT folder"
        ),
    )
    tokenizer: str | None = setting(None, flag=Flag("sat-tokenizer"))
    threshold: float | None = setting(None, flag=Flag("sat-threshold", type=float))
    max_pause_ms: int = 1000
    max_words: int = 60

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise ValueError("segmenter threshold must be within (0, 1)")


class SentenceSegmenter:
    """Loaded once per worker; `name` says which segmenter actually runs (for provenance)."""

    def __init__(self, config: SegmenterConfig) -> None:
        self.config = config
        self._sat: Any = None
        if config.model == "punctuation":
            self.name = FALLBACK
            return
        target = DEFAULT_SAT if config.model == "auto" else config.model
        try:
            self._sat = _load_sat(target, config.tokenizer)
        except (OSError, ValueError, ImportError) as exc:
            if config.model != "auto":
                raise ModelLoadError(f"SaT model {target!r} could not be loaded ({exc})") from exc
            log.warning(
                "SaT %s unavailable (%s); sentences come from the %s splitter",
                target,
                type(exc).__name__,
                FALLBACK,
            )
            self.name = FALLBACK
            return
        self.name = f"sat:{Path(target).name if Path(target).is_dir() else target}"

    def segment(self, words: Sequence[Word]) -> tuple[Sentence, ...]:
        if not words:
            return ()
        if self._sat is None:
            return split_on_punctuation_and_pauses(
                words, max_pause_ms=self.config.max_pause_ms, max_words=self.config.max_words
            )
        text, _ = join_words(words)
        pieces = self._sat.split(text, threshold=self.config.threshold, strip_whitespace=False)
        return sentences_from_pieces(words, pieces)


def _load_sat(target: str, tokenizer: str | None) -> Any:
    from wtpsplit import SaT

    path = Path(target)
    kwargs: dict[str, Any] = {}
    if path.is_dir():
        kwargs["tokenizer_name_or_path"] = tokenizer or str(path)
        if (path / "model_optimized.onnx").is_file():
            kwargs["ort_providers"] = ["CPUExecutionProvider"]
    elif tokenizer:
        kwargs["tokenizer_name_or_path"] = tokenizer
    return SaT(target, **kwargs)


@dataclass(frozen=True)
class SegmenterHandler(ModelHandler[SentenceSegmenter]):
    config: SegmenterConfig

    def load_model(self) -> SentenceSegmenter:
        return SentenceSegmenter(self.config)
