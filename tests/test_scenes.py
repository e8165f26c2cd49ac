"""Scene cuts against the synthetic truth, and the clip-window rules."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that
from test_frames import _video

from pipeline import synthetic
from pipeline.core import scenes
from pipeline.core.scenes import FRAME_DIFFERENCE, SceneConfig, candidate_cuts, clip_spans
from pipeline.models.clip import ClipConfig
from pipeline.stages.frames import FrameConfig, SampleFrames
from pipeline.stages.scenes import DetectScenes

FPS = {
    "kitchen": Fraction(25),
    "bicycle": Fraction(30000, 1001),
    "garden": Fraction(25),
    "quiet": Fraction(25),
}


def test_candidate_cuts_need_a_hard_jump_or_a_soft_one_that_clip_confirms() -> None:
    cfg = SceneConfig()
    d = np.array([0.05, 0.6, 0.25, 0.25, 0.1])
    assert candidate_cuts(d, None, cfg) == [1]
    change = np.array([0.0, 0.0, 0.4, 0.05, 0.9])
    # position 2: soft jump confirmed by CLIP; 3: soft jump, CLIP says same scene; 4: no jump
    assert candidate_cuts(d, change, cfg) == [1, 2]


def test_clip_spans_never_cross_cuts_and_respect_lengths() -> None:
    cfg = SceneConfig(min_clip_ms=1000, max_clip_ms=4000, keyframes_per_clip=2)
    samples = list(range(0, 20000, 1000))
    spans = clip_spans([500, 9000, 9600], 20000, samples, cfg)
    # 0-500 and 9000-9600 are shorter than the minimum; 500-9000 splits in three windows
    assert [(s.start_ms, s.end_ms, s.scene_boundary) for s in spans] == [
        (500, 3333, True),
        (3333, 6167, False),
        (6167, 9000, False),
        (9600, 13067, True),
        (13067, 16533, False),
        (16533, 20000, False),
    ]
    for s in spans:
        assert s.end_ms - s.start_ms <= cfg.max_clip_ms
        assert not any(s.start_ms < c < s.end_ms for c in (500, 9000, 9600))
        assert 1 <= len(s.keyframe_ms) <= 2
        assert all(s.start_ms <= k < s.end_ms for k in s.keyframe_ms)
    assert clip_spans([], 800, [0], cfg) == []
    with pytest.raises(ValueError, match="clip length"):
        SceneConfig(min_clip_ms=5000, max_clip_ms=1000)


def test_sharpest_step_finds_the_jump() -> None:
    assert scenes.sharpest_step([0.01, 0.02, 0.7, 0.03]) == 2
    with pytest.raises(ValueError, match="no frames"):
        scenes.sharpest_step([])


def _check_cuts(truths: dict, detector: str = FRAME_DIFFERENCE):
    def check(plans: list) -> None:
        assert len(plans) == 4
        for plan in plans:
            name = Path(plan.video.media.path).stem
            truth = truths[name]
            frame_ms = 1000 / FPS[name]
            cuts = [c.start_ms for c in plan.clips if c.scene_boundary]
            assert len(cuts) == len(truth.cuts_ms), (name, cuts, truth.cuts_ms)
            for got, want in zip(cuts, truth.cuts_ms, strict=True):
                assert abs(got - want) <= frame_ms, (name, got, want)
            assert plan.clips[0].start_ms == 0
            assert abs(plan.clips[-1].end_ms - truth.duration_ms) <= frame_ms
            assert [c.index for c in plan.clips] == list(range(len(plan.clips)))
            assert all(c.scene_detector == detector for c in plan.clips)

    return check


def test_detected_cuts_are_within_one_frame_of_truth(corpus) -> None:
    root, truths = corpus
    videos = [_video(root / f"{name}.mp4") for name in FPS]
    with TestPipeline() as p:
        sampled, frames_failed = (
            p | beam.Create(videos) | SampleFrames(FrameConfig(), ClipConfig(model="off"))
        )
        plans, scenes_failed = sampled | DetectScenes(SceneConfig())
        assert_that(plans, _check_cuts(truths))
        assert_that(
            (frames_failed, scenes_failed) | beam.Flatten(),
            lambda f: f == [] or (_ for _ in ()).throw(AssertionError(f)),
            label="no failures",
        )


@pytest.mark.slow
def test_transnetv2_cuts_are_within_one_frame_of_truth(corpus) -> None:
    """The same contract with TransNetV2 (the weights its PyPI package ships): every cut to
    the frame, no clip across one."""
    root, truths = corpus
    videos = [_video(root / f"{name}.mp4") for name in FPS]
    with TestPipeline() as p:
        sampled, _ = p | beam.Create(videos) | SampleFrames(FrameConfig(), ClipConfig(model="off"))
        plans, failed = sampled | DetectScenes(SceneConfig(detector="transnetv2"))
        assert_that(plans, _check_cuts(truths, "transnetv2"))
        assert_that(
            failed,
            lambda f: f == [] or (_ for _ in ()).throw(AssertionError(f)),
            label="no failures",
        )


def test_transition_runs_become_cuts() -> None:
    pts = list(range(0, 1000, 100))
    # a hard cut (one frame) and a fade (three frames)
    probs = [0, 0, 0.9, 0, 0, 0.7, 0.8, 0.6, 0, 0]
    assert scenes.transition_cuts(probs, pts) == [300, 500, 800]
    assert scenes.transition_cuts([0.0] * 10, pts) == []
    with pytest.raises(ValueError, match="scene detector"):
        SceneConfig(detector="pyscenedetect")


def test_clip_embeddings_feed_the_detector(corpus, tiny_clip_config: Path) -> None:
    from tiny_clip import NAME

    from pipeline.models.clip import ClipEmbedder
    from pipeline.stages.frames import sample_frames
    from pipeline.stages.scenes import detect

    root, truths = corpus
    embedder = ClipEmbedder(
        ClipConfig(model=NAME, pretrained="none", config_file=str(tiny_clip_config))
    )
    sampled = sample_frames(_video(root / "kitchen.mp4"), FrameConfig(), embedder)
    assert sampled.embeddings is not None and len(sampled.embeddings) == len(sampled.frame_ms)
    plan = detect(sampled, SceneConfig())
    assert {c.scene_detector for c in plan.clips} == {f"{FRAME_DIFFERENCE}+clip:{NAME}/random-init"}
    assert [c.start_ms for c in plan.clips if c.scene_boundary] == list(truths["kitchen"].cuts_ms)
    assert all(
        c.keyframe_embeddings is not None and len(c.keyframe_embeddings) == len(c.keyframe_ms)
        for c in plan.clips
    )


def test_cuts_are_placed_from_the_frames_pass_or_by_decoding_again(corpus, tmp_path) -> None:
    """Where the codec's keyframes lie further apart than the samples (the corpus: every 2 s,
    samples every 1 s), the frames stage reads every frame and places each possible cut, so
    scene detection needs the file no more; in an all-keyframe file only the samples are
    decoded and the cut windows are decoded again. Both place the cuts to the frame."""
    import shutil

    from pipeline.stages.frames import sample_frames
    from pipeline.stages.scenes import detect

    root, truths = corpus
    name = next(n for n, t in truths.items() if t.cuts_ms)
    frame_ms = 1000 / FPS[name]
    moved = shutil.copy(root / f"{name}.mp4", tmp_path / "long-gop.mp4")
    intra = tmp_path / "all-keyframes.mp4"
    encode = ["-an", "-c:v", "libx264", "-g", "1", "-preset", "ultrafast"]
    synthetic.ffmpeg("-i", str(moved), *encode, str(intra))
    long_gop = sample_frames(_video(Path(moved)), FrameConfig(), None)
    all_keys = sample_frames(_video(intra), FrameConfig(), None)
    assert long_gop.steps is not None and long_gop.step_ms is not None
    assert len(long_gop.steps) == len(long_gop.step_ms) - 1
    assert all_keys.steps is None
    Path(moved).unlink()  # the cuts come from what the frames stage measured
    for sampled in (long_gop, all_keys):
        cuts = [c.start_ms for c in detect(sampled, SceneConfig()).clips if c.scene_boundary]
        assert len(cuts) == len(truths[name].cuts_ms), cuts
        for got, want in zip(cuts, truths[name].cuts_ms, strict=True):
            assert abs(got - want) <= frame_ms, (got, want)


def test_step_cuts_take_the_frame_after_the_sharpest_step() -> None:
    steps = np.array([0.0, 0.1, 0.9, 0.0, 0.05, 0.0, 0.3], dtype=np.float32)
    pts = [0, 40, 80, 120, 160, 200, 240, 280]
    # windows between samples at frames 0, 3, 6 and 7; steps[j] is frame j to j + 1: the
    # sharpest steps are 2->3, 4->5 and 6->7, so the new scenes start on frames 3, 5 and 7
    assert scenes.step_cuts(steps, [(0, 3), (3, 6), (6, 7)], pts, 0.35) == [120, 200, 280]


def test_every_hard_step_in_a_window_is_a_cut() -> None:
    """Two cuts between two samples (a shot shorter than their spacing): both are cuts; soft
    steps beside the sharpest are not."""
    steps = [0.02, 0.6, 0.03, 0.2, 0.01, 0.8, 0.02]
    assert scenes.window_cuts(steps, 0.35) == [1, 5]
    assert scenes.window_cuts(steps, 0.7) == [5]
    assert scenes.window_cuts([0.1, 0.2, 0.15], 0.35) == [1]  # a dissolve: its sharpest step


def test_a_shot_shorter_than_the_sample_spacing_is_cut_out_on_both_sides(tmp_path) -> None:
    """Rapid cuts (a trailer, a music video): shots of 0.4 s and 0.3 s between samples 1 s
    apart. Every cut is found to the frame, and no clip runs across one, whether the cuts
    come from the frames pass (long GOP) or from decoding the windows again (all keyframes)."""
    from pipeline.stages.frames import sample_frames
    from pipeline.stages.scenes import detect

    spec = synthetic.Spec(
        "rapid",
        (
            ("testsrc2", 1500),
            ("smptebars", 400),
            ("rgbtestsrc", 2100),
            ("mandelbrot", 300),
            ("testsrc", 2700),
        ),
        audio=False,
    )
    truth = synthetic.make_video(spec, tmp_path)
    assert len(truth.cuts_ms) == 4
    intra = tmp_path / "all-keyframes.mp4"
    encode = ["-an", "-c:v", "libx264", "-g", "1", "-preset", "ultrafast"]
    synthetic.ffmpeg("-i", str(tmp_path / truth.file), *encode, str(intra))
    frame_ms = 1000 / 25
    for path, every in ((tmp_path / truth.file, True), (intra, False)):
        sampled = sample_frames(_video(path), FrameConfig(), None)
        assert (sampled.steps is not None) == every
        plan = detect(sampled, SceneConfig())
        ends = {c.end_ms for c in plan.clips} | {c.start_ms for c in plan.clips}
        for cut in truth.cuts_ms:  # each cut bounds the clips around it, to the frame
            assert any(abs(edge - cut) <= frame_ms for edge in ends), (path.name, cut, ends)
        for clip in plan.clips:
            inside = [
                c for c in truth.cuts_ms if clip.start_ms + frame_ms < c < clip.end_ms - frame_ms
            ]
            assert not inside, (path.name, clip.start_ms, clip.end_ms, inside)
