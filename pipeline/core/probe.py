"""What ffprobe's output means: duration, rational fps, codecs and stream start offsets, and
which duration to trust. Running ffprobe is pipeline/io/probe.py."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pipeline.records import Probe


class ProbeError(ValueError):
    """The file is not media this pipeline can use; the message says why."""


def _ms(seconds: Any) -> int | None:
    if seconds in (None, "N/A"):
        return None
    return round(float(seconds) * 1000)


def _rational(text: str | None) -> Fraction | None:
    if not text or text in ("0/0", "N/A"):
        return None
    num, _, den = text.partition("/")
    value = Fraction(int(num), int(den or 1))
    return value if value > 0 else None


def video_stream(info: dict[str, Any]) -> dict[str, Any] | None:
    """The picture stream (cover art is not one)."""
    return next(
        (
            s
            for s in info.get("streams", [])
            if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
        ),
        None,
    )


def parse_probe(info: dict[str, Any]) -> Probe:
    """Turn ffprobe JSON into a Probe; no picture or no duration raises ProbeError. A video
    without sound is a video (its picture tasks stand; `audio_codec` is None). The timeline
    is the picture's: the video stream's duration, the container's only where the stream
    has none (audio that runs on past the last frame is not part of it)."""
    streams = info.get("streams", [])
    fmt = info.get("format", {})
    video = video_stream(info)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        raise ProbeError("no video stream (audio-only or not a video file)")
    duration_ms = _ms(video.get("duration")) or _ms(fmt.get("duration"))
    if not duration_ms or duration_ms <= 0:
        raise ProbeError("duration unknown or zero (truncated or damaged file)")
    fps = _rational(video.get("avg_frame_rate")) or _rational(video.get("r_frame_rate"))
    return Probe(
        duration_ms=duration_ms,
        size_bytes=int(fmt.get("size", 0) or 0),
        video_codec=video.get("codec_name"),
        audio_codec=audio.get("codec_name") if audio else None,
        fps_num=fps.numerator if fps else None,
        fps_den=fps.denominator if fps else None,
        width=video.get("width"),
        height=video.get("height"),
        audio_sample_rate=int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
        video_start_ms=_ms(video.get("start_time")),
        audio_start_ms=_ms(audio.get("start_time")) if audio else None,
    )


def trusted_duration_ms(claimed_ms: int, packets_ms: int | None) -> int:
    """The header's duration unless the packets end well before it (a forged or damaged
    header): then the packets' end, so no window reaches past the last frame."""
    if packets_ms is None or packets_ms >= claimed_ms - max(2000, claimed_ms // 50):
        return claimed_ms
    return packets_ms
