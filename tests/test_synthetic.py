"""The media tools that make the synthetic videos fail with their own reason, and in time:
a tool that hangs would otherwise hold `make demo` and the test set-up forever."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import synthetic


def test_a_failing_ffmpeg_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(RuntimeError, match=r"ffmpeg failed \(\d+\): .*No such file or directory"):
        synthetic.ffmpeg("-i", str(missing), str(tmp_path / "out.mp4"))
    assert not (tmp_path / "out.mp4").exists()


def test_an_ffmpeg_that_runs_on_is_stopped_at_its_deadline(tmp_path: Path) -> None:
    endless = ("-re", "-f", "lavfi", "-i", "testsrc=size=64x48")  # read at its own pace
    with pytest.raises(RuntimeError, match=r"ffmpeg took over 1 s"):
        synthetic.ffmpeg(*endless, "-f", "null", "-", timeout_s=1)


def test_ffmpeg_writes_what_it_is_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "one.png"
    synthetic.ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
