"""The spoken language from a multilingual ASR: whisper's own language detection runs on the
speech and its answer is stored with its probability in videos, where the curation policy
prefers it to the transcript's text language. The model is a random-weight multilingual
whisper (tests/tiny_whisper.py), so what it hears is arbitrary: these tests check that the
real detection path runs and what it says is kept, not which language it names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from faster_whisper.tokenizer import _LANGUAGE_CODES

from pipeline import cli
from pipeline.io.parquet import read_table
from pipeline.models.whisper import AsrConfig, SpeechRecognizer


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_whisper import build_tiny_whisper

    return build_tiny_whisper(tmp_path_factory.mktemp("whisper") / "tiny-multilingual")


def test_a_multilingual_model_reports_the_language_it_hears(tiny_whisper, corpus) -> None:
    import whisperx

    root, _ = corpus
    audio = whisperx.load_audio(str(root / "kitchen.mp4"))
    multilingual = SpeechRecognizer(AsrConfig(model=str(tiny_whisper), align_model="none"))
    assert multilingual.multilingual
    language, probability = multilingual.spoken_language(audio)
    assert language in _LANGUAGE_CODES and 0 < probability <= 1
    assert multilingual.spoken_language(audio[:0]) is None
    english_only = SpeechRecognizer(AsrConfig(model="auto", align_model="none"))
    assert not english_only.multilingual and english_only.spoken_language(audio) is None


def test_annotate_stores_the_spoken_language(tiny_whisper, corpus, tmp_path) -> None:
    root, _ = corpus
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(root / "kitchen.mp4", media / "kitchen.mp4")
    out = tmp_path / "out"
    status = cli.main(
        [
            "annotate",
            "--media-dir",
            str(media),
            "--out",
            str(out),
            "--asr-model",
            str(tiny_whisper),
            "--align-model",
            "none",
            "--segmenter",
            "punctuation",
            "--clip-model",
            "off",
            "--inspect-keyframes",
            "0",
            "--wave-size",
            "0",
        ]
    )
    assert status == cli.EXIT_OK
    (video,) = read_table(str(out), "videos").to_pylist()
    assert video["spoken_language"] in _LANGUAGE_CODES
    assert 0 < video["spoken_language_score"] <= 1
    assert video["provenance"]["asr_model"] == str(tiny_whisper)
