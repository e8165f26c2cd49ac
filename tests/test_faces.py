"""Faces on a real photograph (matplotlib's Grace Hopper sample, which ships in the wheel): the
OpenCV cascade finds hers and none in test patterns, the inspect stage measures it on a video's
keyframes, and a policy against talking heads blocks the tasks they spoil."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import apache_beam as beam
import numpy as np
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that
from matplotlib import cbook
from PIL import Image

from pipeline import synthetic
from pipeline.core.curation import Policy, judge
from pipeline.core.scenes import SceneConfig
from pipeline.models.faces import FaceDetector
from pipeline.records import MediaFile, Probe, Source, Video
from pipeline.stages.frames import FrameConfig, sample_frames
from pipeline.stages.inspect import InspectConfig, InspectKeyframes
from pipeline.stages.scenes import detect

PHOTO = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


def _photo() -> np.ndarray:
    return np.asarray(Image.open(PHOTO).convert("RGB"))


def test_the_cascade_finds_a_real_face_and_none_in_patterns() -> None:
    faces = FaceDetector()
    portrait = _photo()
    assert 0.1 < faces.largest_face(portrait) < 0.4  # her face is about a sixth of the photo
    assert faces.largest_face(portrait[::-1]) == 0  # upside down: not a frontal face
    bars = np.zeros((240, 320, 3), np.uint8)
    bars[:, ::40] = 255
    assert faces.largest_face(bars) == 0


def test_threads_sharing_one_detector_get_what_one_thread_gets() -> None:
    """Beam runs a worker's threads on one loaded detector; a shared OpenCV cascade fails in
    two threads at once (cv2.error on its scale data), so each thread must have its own."""
    faces = FaceDetector()
    portrait = _photo()
    rng = np.random.default_rng(0)
    pictures = [portrait, portrait[::-1], portrait[:, ::-1]] * 8
    pictures += [rng.integers(0, 256, (360, 640, 3), dtype=np.uint8) for _ in range(24)]
    alone = [faces.largest_face(p) for p in pictures]
    assert sum(a > 0 for a in alone) == 16  # upright and mirrored: a face; upside down: none
    for _ in range(3):
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(faces.largest_face, pictures)) == alone


def _video(path: Path, source: list[str]) -> Video:
    fit = "scale=320:240:force_original_aspect_ratio=decrease,pad=320:240:(ow-iw)/2:(oh-ih)/2"
    synthetic.ffmpeg(*source, "-t", "4", "-vf", f"{fit},format=yuv420p", "-r", "25", str(path))
    return Video(
        MediaFile(Source(str(path), "file"), path.stem, str(path)),
        Probe(4000, 0, None, None, None, None, None, None, None, 0, 0),
        "",
        "train",
    )


def test_inspect_measures_a_talking_head_that_a_policy_can_refuse(tmp_path: Path) -> None:
    head = _video(tmp_path / "head.mp4", ["-loop", "1", "-i", PHOTO])
    pattern = _video(tmp_path / "pattern.mp4", ["-f", "lavfi", "-i", "testsrc2=size=320x240"])
    plans = [detect(sample_frames(v, FrameConfig(), None), SceneConfig()) for v in (head, pattern)]

    def check(out: list) -> None:
        areas = {p.video.media.video_id: [c.face_area for c in p.clips] for p in out}
        assert all(a > 0.05 for a in areas["head"]), areas
        assert all(a == 0 for a in areas["pattern"]), areas

    with TestPipeline() as p:
        inspected, _ = p | beam.Create(plans) | InspectKeyframes(InspectConfig())
        assert_that(inspected, check)

    policy = replace(Policy(), talking_head_min_face_area=0.05)
    assert policy.talking_head_poisons  # the tasks a talking head spoils, not the video
    row = {"video_id": "head", "height": 240, "face_area_mean": 0.16}
    verdict = judge(row, [], [], policy)
    assert set(verdict.blocked_tasks) == set(policy.talking_head_poisons)
    assert {r.reason for r in verdict.rejections} == {"talking_head"}
    assert not judge({**row, "face_area_mean": 0.0}, [], [], policy).blocked_tasks
