"""Long audio in windows (the word-timing fallback's memory bound): the same speech, on one
timeline, checked against the synthetic truth."""

from __future__ import annotations

import jiwer
import numpy as np
import pytest
import whisperx

from pipeline.core.asr import audio_windows
from pipeline.models.whisper import SAMPLE_RATE, AsrConfig, SpeechRecognizer

NAMES = ("kitchen", "bicycle", "garden")


def _norm(text: str) -> str:
    return " ".join(w.strip('.,!?;:"') for w in text.lower().split())


def _text(words) -> str:
    return " ".join(_norm(w.text) for w in words)


@pytest.mark.slow
def test_windowed_transcript_keeps_the_words_and_their_times(corpus) -> None:
    root, truths = corpus
    parts = [whisperx.load_audio(str(root / f"{name}.mp4")) for name in NAMES]
    audio = np.concatenate(parts)
    assert len(audio_windows(audio, SAMPLE_RATE, 14, search_s=3.5)) >= 3
    whole = SpeechRecognizer(AsrConfig(align_model="none")).transcribe_audio(audio)
    windowed = SpeechRecognizer(AsrConfig(align_model="none", window_s=14)).transcribe_audio(audio)
    # A window starts a new decoding context, so tiny.en may hear a word differently there
    # (better or worse, depending on the CPU's kernels): measured against the script, the
    # windows lose at most 5 points of WER to the whole-audio transcript.
    script = " ".join(_norm(s.text) for name in NAMES for s in truths[name].sentences)
    whole_wer = jiwer.wer(script, _text(whole.words))
    assert jiwer.wer(script, _text(windowed.words)) <= whole_wer + 0.05
    assert whole_wer <= 0.25  # the comparison means something only on a usable transcript
    starts = [w.start_s for w in windowed.words]
    assert starts == sorted(starts)  # one timeline, in order across the cuts
    offset = 0.0
    for name, part in zip(NAMES, parts, strict=True):
        for sentence in truths[name].sentences:  # every sentence starts where a word starts
            truth = offset + sentence.start_ms / 1000
            assert min(abs(s - truth) for s in starts) <= 0.5, (name, sentence.text)
        offset += len(part) / SAMPLE_RATE
    assert windowed.language == "en"
