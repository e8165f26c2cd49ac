from pathlib import Path

import pytest

from pipeline.core.probe import ProbeError, parse_probe, probe


def test_probe_reads_rational_fps_and_duration(corpus: tuple[Path, dict]) -> None:
    root, truths = corpus
    p = probe(root / "bicycle.mp4")
    assert (p.fps_num, p.fps_den) == (30000, 1001)
    assert abs(p.duration_ms - truths["bicycle"].duration_ms) <= 50
    assert p.video_codec == "h264" and p.audio_codec == "aac"
    assert (p.width, p.height) == (320, 240)


def test_probe_measures_audio_start_offset(corpus: tuple[Path, dict]) -> None:
    root, _ = corpus
    # garden's audio starts 400 ms after the first frame; AAC priming moves the container's
    # start time back by one frame of 1024 samples (46 ms at 22.05 kHz).
    assert 340 <= probe(root / "garden.mp4").audio_offset_ms <= 410
    assert abs(probe(root / "kitchen.mp4").audio_offset_ms) <= 50


@pytest.mark.parametrize(("name", "reason"), [
    ("empty.mp4", "empty file"),
    ("text.mp4", "not readable as media"),
    ("truncated.mp4", "not readable as media"),
    ("noaudio.mp4", "no audio stream"),
    ("audioonly.m4a", "no video stream"),
])
def test_bad_media_has_a_clear_reason(bad_media: Path, name: str, reason: str) -> None:
    with pytest.raises(ProbeError, match=reason):
        probe(bad_media / name)


def test_parse_probe_ignores_cover_art_and_needs_duration() -> None:
    info = {"format": {"duration": "N/A"}, "streams": [
        {"codec_type": "video", "disposition": {"attached_pic": 1}},
        {"codec_type": "audio", "codec_name": "mp3"}]}
    with pytest.raises(ProbeError, match="no video stream"):
        parse_probe(info)
    info["streams"][0]["disposition"] = {}
    with pytest.raises(ProbeError, match="duration unknown"):
        parse_probe(info)
