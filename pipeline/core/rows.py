"""Records to table rows: the only place that knows the column names of each table."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from pipeline.core.redact import redact_text
from pipeline.records import (
    AnnotatedVideo,
    Clip,
    CompleteVideo,
    Failure,
    Measures,
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
        "provenance": _asr_provenance(
            ann, ctx, **(_vision_provenance(done.clips[0]) if done.clips else {})
        ),
        **_measures(done).video,
    }


def _measures(done: CompleteVideo) -> Measures:
    if done.measures is None:
        raise ValueError("a complete video is measured when it is assembled (core/measures.py)")
    return done.measures


def _sentence_row(
    s: Sentence, ann: AnnotatedVideo, prov: dict[str, Any], measured: dict[str, Any]
) -> dict[str, Any]:
    video_id = ann.transcript.video.video_id
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
        "split": ann.transcript.video.split,
        "provenance": prov,
        **measured,
    }


def sentence_rows(done: CompleteVideo, ctx: RunContext) -> list[dict[str, Any]]:
    prov = _asr_provenance(done.annotated, ctx)
    return [
        _sentence_row(s, done.annotated, prov, measured)
        for s, measured in zip(done.annotated.sentences, _measures(done).sentences, strict=True)
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
            **measured,
        }
        for c, measured in zip(done.clips, _measures(done).clips, strict=True)
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
