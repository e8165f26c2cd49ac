"""Records to table rows: the only place that knows the column names of each table."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from pipeline.core import signals
from pipeline.core.redact import redact_text
from pipeline.core.subtitles import word_error_rate
from pipeline.records import (
    AnnotatedVideo,
    Clip,
    CompleteVideo,
    Failure,
    RunContext,
    Sentence,
    Video,
    clip_id,
    sentence_id,
)

_PROVENANCE_KEYS = (
    "asr_model",
    "asr_backend",
    "word_timing",
    "segmenter",
    "caption_model",
    "prompt_id",
    "prompt_hash",
    "clip_model",
    "scene_detector",
    "frame_fps",
    "seed",
)


def provenance(ctx: RunContext, **models: Any) -> dict[str, Any]:
    unknown = models.keys() - set(_PROVENANCE_KEYS)
    if unknown:
        raise ValueError(f"unknown provenance keys: {sorted(unknown)}")
    row: dict[str, Any] = dict.fromkeys(_PROVENANCE_KEYS)
    row.update(
        pipeline_version=ctx.pipeline_version,
        run_id=ctx.run_id,
        run_started_ms=ctx.started_ms,
        config_hash=ctx.config_hash,
        **models,
    )
    return row


def _asr_provenance(ann: AnnotatedVideo, ctx: RunContext, **vision: Any) -> dict[str, Any]:
    t = ann.transcript
    return provenance(
        ctx,
        asr_model=t.asr_model,
        asr_backend=t.asr_backend,
        word_timing=t.word_timing,
        segmenter=ann.segmenter,
        **vision,
    )


def _vision_provenance(clip: Clip) -> dict[str, Any]:
    return {
        "caption_model": clip.caption_model,
        "prompt_id": clip.prompt_id,
        "prompt_hash": clip.prompt_hash,
        "clip_model": clip.clip_model,
        "scene_detector": clip.scene_detector,
        "frame_fps": clip.frame_fps,
    }


def video_row(done: CompleteVideo, ctx: RunContext) -> dict[str, Any]:
    ann = done.annotated
    video: Video = ann.transcript.video
    m, p = video.media, video.probe
    return {
        "video_id": m.video_id,
        "source_uri": m.source.uri,
        "url": m.url,
        "extractor": m.extractor,
        "keywords": list(m.source.keywords),
        "categories": list(m.source.categories),
        "title": m.title,
        "view_count": m.view_count,
        "tags": list(m.tags),
        "platform_categories": list(m.platform_categories),
        "manual_subtitles": list(m.manual_subtitles),
        "auto_subtitles": list(m.auto_subtitles),
        "channel_id": m.channel_id,
        "channel": m.channel,
        "license": m.license,
        "upload_date": m.upload_date,
        "duration_ms": p.duration_ms,
        "fps_num": p.fps_num,
        "fps_den": p.fps_den,
        "width": p.width,
        "height": p.height,
        "video_codec": p.video_codec,
        "audio_codec": p.audio_codec,
        "audio_sample_rate": p.audio_sample_rate,
        "video_start_ms": p.video_start_ms,
        "audio_offset_ms": p.audio_offset_ms,
        "size_bytes": p.size_bytes,
        "media_uri": m.path,
        "sha256": video.sha256,
        "language": m.language or ann.transcript.language,
        "split": video.split,
        "speech_ms": ann.transcript.speech_ms,
        "reference_transcript": m.reference_text,
        "reference_wer": word_error_rate(
            m.reference_text, " ".join(w.text for w in ann.transcript.words)
        )
        if m.reference_text
        else None,
        "provenance": _asr_provenance(
            ann, ctx, **(_vision_provenance(done.clips[0]) if done.clips else {})
        ),
        **_video_signals(done),
    }


def _weighted(clips: tuple[Clip, ...], value: Any) -> float | None:
    """A clip measure averaged over the video, each clip weighted by its length."""
    known = [(c.end_ms - c.start_ms, value(c)) for c in clips if value(c) is not None]
    total = sum(w for w, _ in known)
    return sum(w * v for w, v in known) / total if total else None


def _video_signals(done: CompleteVideo) -> dict[str, Any]:
    ann = done.annotated
    texts = [s.text for s in ann.sentences]
    scores = [w.score for s in ann.sentences for w in s.words if w.score is not None]
    speech = signals.speech_signals(
        texts, scores, ann.transcript.speech_ms, ann.transcript.video.probe.duration_ms
    )
    lang, spoken = ann.text_language, ann.transcript.spoken_language
    clips = done.clips
    return {
        **speech,
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


def _sentence_row(s: Sentence, ann: AnnotatedVideo, prov: dict[str, Any]) -> dict[str, Any]:
    video_id = ann.transcript.video.video_id
    scores = [w.score for w in s.words if w.score is not None]
    return {
        "sentence_id": sentence_id(video_id, s.index),
        "video_id": video_id,
        "index": s.index,
        "start_ms": s.start_ms,
        "end_ms": s.end_ms,
        "text": s.text,
        "speaker": None,
        "words": [
            {
                "text": w.text,
                "start_ms": w.start_ms,
                "end_ms": w.end_ms,
                "score": w.score,
                "interpolated": w.interpolated,
            }
            for w in s.words
        ],
        "word_score_mean": sum(scores) / len(scores) if scores else None,
        "interpolated_fraction": sum(w.interpolated for w in s.words) / len(s.words),
        "split": ann.transcript.video.split,
        "provenance": prov,
        **signals.sentence_signals(s.text, scores, s.start_ms, s.end_ms),
    }


def sentence_rows(done: CompleteVideo, ctx: RunContext) -> list[dict[str, Any]]:
    prov = _asr_provenance(done.annotated, ctx)
    return [_sentence_row(s, done.annotated, prov) for s in done.annotated.sentences]


def _spoken_during(done: CompleteVideo, clip: Clip) -> list[str]:
    return [
        s.text
        for s in done.annotated.sentences
        if s.start_ms < clip.end_ms and clip.start_ms < s.end_ms
    ]


def clip_rows(done: CompleteVideo, ctx: RunContext) -> list[dict[str, Any]]:
    return [
        {
            "clip_id": clip_id(c.video_id, c.index),
            "video_id": c.video_id,
            "index": c.index,
            "start_ms": c.start_ms,
            "end_ms": c.end_ms,
            "scene_boundary": c.scene_boundary,
            "keyframe_ms": list(c.keyframe_ms),
            "caption": c.caption,
            "caption_model": c.caption_model,
            "prompt_id": c.prompt_id,
            "prompt_hash": c.prompt_hash,
            "clip_score": c.clip_score,
            "embedding_change": c.embedding_change,
            "split": c.video.split,
            "provenance": provenance(ctx, **_vision_provenance(c)),
            "motion": c.motion,
            "screen_text": c.screen_text,
            "screen_text_area": c.screen_text_area,
            "face_area": c.face_area,
            "frame_hash": c.frame_hash,
            "subtitle_overlap": (
                signals.text_overlap(c.screen_text, _spoken_during(done, c))
                if c.screen_text is not None
                else None
            ),
        }
        for c in done.clips
    ]


def utf8_text(text: str | None) -> str | None:
    """Text that UTF-8 can store, without credentials: a file name that is not UTF-8 reaches
    Python with its bad bytes as surrogates, which Parquet (and a hash) refuse, so they are
    written as escapes; URL userinfo and Authorization values are hidden (core/redact.py)."""
    if text is None:
        return None
    return redact_text(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def failure_row(f: Failure, ctx: RunContext, now_ms: int | None = None) -> dict[str, Any]:
    uri, message = utf8_text(f.source_uri), utf8_text(f.message)
    key = f"{ctx.run_id}|{f.stage}|{uri}|{f.attempt}|{message}"
    return {
        "failure_id": hashlib.sha1(key.encode("utf-8")).hexdigest()[:16],
        "run_id": ctx.run_id,
        "stage": f.stage,
        "source_uri": uri,
        "video_id": utf8_text(f.video_id),
        "error_type": f.error_type,
        "message": message,
        "traceback": utf8_text(f.traceback),
        "attempt": f.attempt,
        "reason": f.reason or f.error_type.lower(),
        "failed_at_ms": now_ms if now_ms is not None else int(time.time() * 1000),
    }
