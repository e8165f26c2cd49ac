"""Frame-time selection and decoding: timestamps are the decoded ones, memory stays chunked."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import ffprobe_pts_ms

from pipeline.core import frames
from pipeline.io.video import CHUNK, FrameReader
from pipeline.records import MediaFile, Probe, Source, Video
from pipeline.stages.frames import FrameConfig, sample_frames


def _video(path: Path) -> Video:
    probe = Probe(16000, 1, "h264", "aac", 25, 1, 320, 240, 22050, 0, 0)
    return Video(
        MediaFile(Source(str(path), "file"), path.stem, str(path)), probe, "0" * 64, "train"
    )


def test_selection_follows_timestamps_and_does_not_drift_at_29_97() -> None:
    pts = [math.floor(i * 1001 / 30) for i in range(30 * 3600)]  # one hour at 30000/1001
    chosen = frames.select_frames(pts, 1.0)
    assert len(chosen) == pts[-1] // 1000 + 1  # one sample per whole second of frames
    # The frame on screen at t = 3000 s: a stride of round(29.97) = 30 would be 3 s late.
    assert chosen[3000] == math.floor(3000 * 30000 / 1001)
    assert all(
        pts[i] <= k * 1000 < (pts[i + 1] if i + 1 < len(pts) else math.inf)
        for k, i in enumerate(chosen)
    )


def test_selection_on_variable_frame_rate_keeps_each_frame_once() -> None:
    pts = [0, 100, 900, 2500, 2533, 2566, 3000]
    # t=0 -> frame 0; t=1 s and t=2 s both show the frame from 900 ms (kept once); t=3 s -> 6
    assert frames.select_frames(pts, 1.0) == [0, 2, 6]
    assert frames.select_frames(pts, 2.0) == [0, 1, 2, 3, 6]
    with pytest.raises(ValueError, match="positive"):
        frames.select_frames(pts, 0)


@pytest.mark.parametrize("name", ["bicycle", "vfr"])
def test_sampled_times_are_decoded_pts(name: str, corpus, vfr_video: Path) -> None:
    path = vfr_video if name == "vfr" else corpus[0] / f"{name}.mp4"
    truth = ffprobe_pts_ms(path)
    reader = FrameReader(str(path), 128)
    # decord and ffprobe round 500.5 ms differently: equal to the millisecond
    assert len(reader.pts_ms) == len(truth)
    assert max(abs(a - b) for a, b in zip(reader.pts_ms, truth, strict=True)) <= 1
    sampled = sample_frames(_video(path), FrameConfig(fps=2.0), None)
    expected = [truth[i] for i in frames.select_frames(truth, 2.0)]
    assert len(sampled.frame_ms) == len(expected)
    assert max(abs(a - b) for a, b in zip(sampled.frame_ms, expected, strict=True)) <= 1
    assert len(sampled.distances) == len(sampled.frame_ms) - 1
    assert sampled.end_ms > truth[-1]


def test_frames_are_decoded_in_bounded_chunks(corpus) -> None:
    reader = FrameReader(str(corpus[0] / "kitchen.mp4"), 64)
    sizes = [
        len(idx) for idx, chunk in reader.chunks(range(len(reader))) if chunk.shape[0] == len(idx)
    ]
    assert sum(sizes) == len(reader) == 400
    assert max(sizes) == CHUNK


def test_unreadable_media_is_a_decode_error(bad_media: Path) -> None:
    from pipeline.io.video import DecodeError

    with pytest.raises(DecodeError, match="cannot read"):
        FrameReader(str(bad_media / "text.mp4"), 64)


def test_signatures_separate_scenes_not_motion() -> None:
    ramp = np.linspace(0, 255, 64, dtype=np.uint8)
    base = np.stack([np.broadcast_to(ramp, (48, 64))] * 3, axis=-1)[None].copy()
    base[:, 10:20, 10:30] = (200, 30, 30)  # a red box on a grey ramp
    shifted = np.roll(base, 3, axis=2)  # the same picture, moved a little
    other = np.zeros_like(base)
    other[..., 2] = 180  # a blue screen
    sig = frames.signatures(np.concatenate([base, shifted, other]))
    assert np.allclose(sig.reshape(3, 12, -1).sum(axis=2), 1.0)
    d = frames.consecutive_distances(sig)
    assert d[0] < 0.1 < 0.5 < d[1]
    with pytest.raises(ValueError, match="N x H x W x 3"):
        frames.signatures(base[0])
