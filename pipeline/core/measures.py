"""The signals curation reads, measured once per complete video from what the stages found
(speech, sentences, clips and their inspection): the speech and repetition signals, the
video's clip measures weighted by length, the language signals, what each clip shows of what
is said, and the ASR's WER against uploaded subtitles. The rows only write them."""

from __future__ import annotations

from typing import Any

from pipeline.core import signals
from pipeline.core.subtitles import word_error_rate
from pipeline.records import AnnotatedVideo, Clip, Measures, Sentence


def _weighted(clips: tuple[Clip, ...], value: Any) -> float | None:
    """A clip measure averaged over the video, each clip weighted by its length."""
    known = [(c.end_ms - c.start_ms, value(c)) for c in clips if value(c) is not None]
    total = sum(w for w, _ in known)
    return sum(w * v for w, v in known) / total if total else None


def _video(ann: AnnotatedVideo, clips: tuple[Clip, ...]) -> dict[str, Any]:
    texts = [s.text for s in ann.sentences]
    scores = [w.score for s in ann.sentences for w in s.words if w.score is not None]
    speech = signals.speech_signals(
        texts, scores, ann.transcript.speech_ms, ann.transcript.video.probe.duration_ms
    )
    lang, spoken = ann.text_language, ann.transcript.spoken_language
    reference = ann.transcript.video.media.reference_text
    return {
        **speech,
        "reference_wer": word_error_rate(reference, " ".join(w.text for w in ann.transcript.words))
        if reference
        else None,
        "spoken_language": spoken[0] if spoken else None,
        "spoken_language_score": spoken[1] if spoken else None,
        "text_language": lang[0] if lang else None,
        "text_language_score": lang[1] if lang else None,
        "motion_mean": _weighted(clips, lambda c: c.motion),
        "screen_text_area_mean": _weighted(clips, lambda c: c.screen_text_area),
        "face_area_mean": _weighted(clips, lambda c: c.face_area),
        "frame_hashes": [c.frame_hash for c in clips if c.frame_hash is not None],
        "inspector": next((c.inspector for c in clips if c.inspector), None),
    }


def _sentence(s: Sentence) -> dict[str, Any]:
    scores = [w.score for w in s.words if w.score is not None]
    return {
        "word_score_mean": sum(scores) / len(scores) if scores else None,
        "interpolated_fraction": sum(w.interpolated for w in s.words) / len(s.words),
        **signals.sentence_signals(s.text, scores, s.start_ms, s.end_ms),
    }


def _clip(c: Clip, sentences: tuple[Sentence, ...]) -> dict[str, Any]:
    """How much of what is said during the clip is on screen (burned-in subtitles)."""
    said = [s.text for s in sentences if s.start_ms < c.end_ms and c.start_ms < s.end_ms]
    overlap = signals.text_overlap(c.screen_text, said) if c.screen_text is not None else None
    return {"subtitle_overlap": overlap}


def measure(ann: AnnotatedVideo, clips: tuple[Clip, ...]) -> Measures:
    return Measures(
        video=_video(ann, clips),
        sentences=tuple(_sentence(s) for s in ann.sentences),
        clips=tuple(_clip(c, ann.sentences) for c in clips),
    )
