from pathlib import Path

import pytest

from pipeline import synthetic
from pipeline.core.probe import ProbeError, parse_probe
from pipeline.io.probe import probe


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


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.mp4", "empty file"),
        ("text.mp4", "not readable as media"),
        ("truncated.mp4", "not readable as media"),
        ("audioonly.m4a", "no video stream"),
    ],
)
def test_bad_media_has_a_clear_reason(bad_media: Path, name: str, reason: str) -> None:
    with pytest.raises(ProbeError, match=reason):
        probe(bad_media / name)


def test_a_video_without_sound_is_a_video(bad_media: Path) -> None:
    p = probe(bad_media / "noaudio.mp4")
    assert p.audio_codec is None and p.audio_start_ms is None and p.video_codec == "h264"
    assert abs(p.duration_ms - 2000) <= 50


def test_the_timeline_is_the_pictures_when_the_audio_runs_on(tmp_path: Path) -> None:
    """1 s of video with 4 s of audio: the duration is the video's, in mp4 (the stream says
    it) and in Matroska (only the container does: the video packets tell)."""

    for suffix in ("mp4", "mkv"):
        path = tmp_path / f"long-audio.{suffix}"
        synthetic.ffmpeg(
            *("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1"),
            *(
                "-f",
                "lavfi",
                "-i",
                "sine=duration=4",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                str(path),
            ),
        )
        p = probe(path)
        assert abs(p.duration_ms - 1000) <= 100, (suffix, p.duration_ms)
        assert p.audio_codec == "aac"


def test_parse_probe_ignores_cover_art_and_needs_duration() -> None:
    info = {
        "format": {"duration": "N/A"},
        "streams": [
            {"codec_type": "video", "disposition": {"attached_pic": 1}},
            {"codec_type": "audio", "codec_name": "mp3"},
        ],
    }
    with pytest.raises(ProbeError, match="no video stream"):
        parse_probe(info)
    info["streams"][0]["disposition"] = {}
    with pytest.raises(ProbeError, match="duration unknown"):
        parse_probe(info)


def test_a_forged_duration_header_is_not_trusted(tmp_path: Path) -> None:
    """A 1 s file whose mvhd claims 10 h: the probe measures where its packets end."""
    import struct

    from pipeline.core.probe import trusted_duration_ms
    from pipeline.io.probe import packets_end_ms, probe, run_ffprobe

    path = tmp_path / "forged.mp4"
    synthetic.ffmpeg(
        *("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1"),
        *("-f", "lavfi", "-i", "sine=duration=1", "-shortest"),
        *("-pix_fmt", "yuv420p", "-c:a", "aac", str(path)),
    )
    honest = probe(path).duration_ms
    data = bytearray(path.read_bytes())
    at = data.find(b"mvhd")
    timescale = struct.unpack(">I", data[at + 16 : at + 20])[0]
    data[at + 20 : at + 24] = struct.pack(">I", timescale * 36_000)  # version-0 mvhd duration
    path.write_bytes(data)
    assert float(run_ffprobe(path)["format"]["duration"]) == 36_000  # the header lies
    assert abs(packets_end_ms(path, 36_000_000) - honest) <= 50
    assert abs(probe(path).duration_ms - honest) <= 50 and honest < 1100
    assert trusted_duration_ms(60_000, 59_500) == 60_000  # within tolerance: the header
    assert trusted_duration_ms(60_000, None) == 60_000
