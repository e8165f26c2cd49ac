"""CaptionClips, ScoreClips and AssembleVideos on real clips of the synthetic videos."""

from __future__ import annotations

import pickle
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from fake_vllm import serve_fake_vllm
from test_frames import _video
from tiny_clip import NAME

from pipeline.core.captions import DRY_RUN_CAPTION
from pipeline.core.prompts import get_prompt
from pipeline.core.scenes import SceneConfig
from pipeline.core.scores import NO_CLIP_MODEL, score_clips
from pipeline.models import ModelLoadError
from pipeline.models.clip import ClipConfig, ClipEmbedder
from pipeline.models.vlm import VlmConfig
from pipeline.records import AnnotatedVideo, CompleteVideo, Transcript, VideoClips
from pipeline.stages.assemble import complete
from pipeline.stages.caption import CaptionClips
from pipeline.stages.frames import FrameConfig, sample_frames
from pipeline.stages.scenes import detect

MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"


@pytest.fixture(scope="module")
def tiny_clip(tiny_clip_config: Path) -> ClipEmbedder:
    return ClipEmbedder(
        ClipConfig(model=NAME, pretrained="none", config_file=str(tiny_clip_config))
    )


@pytest.fixture(scope="module")
def plans(corpus, tiny_clip) -> list[VideoClips]:
    root, _ = corpus
    return [
        detect(sample_frames(_video(root / f"{n}.mp4"), FrameConfig(), tiny_clip), SceneConfig())
        for n in ("kitchen", "bicycle")
    ]


class _Collect(beam.DoFn):
    """Pickles each element into a folder: the test reads what the pipeline produced."""

    def __init__(self, folder: Path) -> None:
        self._folder = str(folder)

    def process(self, element) -> None:
        Path(self._folder, uuid.uuid4().hex).write_bytes(pickle.dumps(element))


def _collected(folder: Path) -> list:
    return [pickle.loads(f.read_bytes()) for f in folder.iterdir()] if folder.exists() else []


def _run_captions(clips, config: VlmConfig, cache: Path | None):
    out = Path(tempfile.mkdtemp())
    (out / "c").mkdir()
    (out / "f").mkdir()
    with TestPipeline() as p:
        captioned, failures = (
            p | beam.Create(clips) | CaptionClips(config, str(cache) if cache else None)
        )
        captioned | "KeepC" >> beam.ParDo(_Collect(out / "c"))
        failures | "KeepF" >> beam.ParDo(_Collect(out / "f"))
    return _collected(out / "c"), _collected(out / "f")


def test_captions_failures_and_the_cache(plans, tmp_path: Path) -> None:
    clips = [c for plan in plans for c in plan.clips]
    assert len(clips) == 6
    with serve_fake_vllm(model=MODEL, script=["refusal"]) as (url, state):
        config = VlmConfig(model=MODEL, base_url=url, backoff_s=0.01, concurrency=2)
        captioned, failures = _run_captions(clips, config, tmp_path / "cache")
        assert state.requests == 6 and state.max_in_flight <= 2
        assert len(captioned) == 5 and len(failures) == 1
        failed = failures[0]
        assert (failed.stage, failed.error_type) == ("caption", "CaptionRejected")
        assert failed.message.split(": ")[1] == "refusal"
        failed_clip = failed.message.split(": ")[0]
        assert failed_clip in {c.clip_id for c in clips} - {c.clip_id for c in captioned}
        prompt = get_prompt(config.prompt_id)
        assert all(
            c.caption.startswith("A mostly ")
            and c.caption_model == MODEL
            and (c.prompt_id, c.prompt_hash) == (prompt.id, prompt.hash)
            for c in captioned
        )
        assert state.images_seen == 4 * 6  # keyframes_per_clip frames per request

        # The rerun pays only for the clip that failed.
        again, failures = _run_captions(clips, config, tmp_path / "cache")
        assert state.requests == 7 and failures == []
        assert {c.clip_id: c.caption for c in captioned}.items() <= {
            c.clip_id: c.caption for c in again
        }.items()
        assert len(again) == 6


def test_dry_run_says_it_is_not_a_caption(plans) -> None:
    clips = list(plans[0].clips)
    captioned, failures = _run_captions(clips, VlmConfig(), None)
    assert failures == [] and len(captioned) == 3
    assert {(c.caption, c.caption_model) for c in captioned} == {(DRY_RUN_CAPTION, "dry-run")}
    assert "not a caption" in DRY_RUN_CAPTION


def test_unreadable_media_fails_the_clip_not_the_batch(plans, tmp_path: Path) -> None:
    good = plans[0].clips[0]
    video = good.video
    gone = replace(
        video, media=replace(video.media, path=str(tmp_path / "gone.mp4"), video_id="gone")
    )
    with serve_fake_vllm(model=MODEL) as (url, _):
        config = VlmConfig(model=MODEL, base_url=url)
        captioned, failures = _run_captions([good, replace(good, video=gone)], config, None)
    assert [c.clip_id for c in captioned] == [good.clip_id]
    assert [(f.video_id, f.error_type) for f in failures] == [("gone", "DecodeError")]


def test_scores_with_tiny_clip(plans, tiny_clip) -> None:
    clips = [replace(c, caption=f"a test pattern number {c.index}") for c in plans[0].clips]
    scored = score_clips(clips, tiny_clip)
    assert all(-1.0 <= c.clip_score <= 1.0 for c in scored)
    assert scored[0].embedding_change is None
    assert all(0.0 <= c.embedding_change <= 2.0 for c in scored[1:])
    assert {c.clip_model for c in scored} == {f"{NAME}/random-init"}
    dry = score_clips([replace(c, caption=DRY_RUN_CAPTION) for c in clips], tiny_clip)
    assert [c.clip_score for c in dry] == [None] * 3


def test_without_weights_scores_stay_null(plans) -> None:
    auto = ClipEmbedder(ClipConfig())  # offline: the pretrained tag cannot be fetched
    assert not auto.loaded and auto.name is None
    scored = score_clips(list(plans[0].clips), auto)
    assert {(c.clip_score, c.embedding_change, c.clip_model) for c in scored} == {
        (None, None, NO_CLIP_MODEL)
    }
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        ClipEmbedder(ClipConfig(model="no-such-model", pretrained="none"))


def test_a_video_is_complete_only_with_every_part(plans) -> None:
    plan = plans[0]
    heard = Transcript(plan.video, (), None, 0, "none", "none", "none")
    speech = AnnotatedVideo(heard, (), "none")
    parts = {"speech": [speech], "plan": [plan], "captioned": list(reversed(plan.clips))}
    done = list(complete(("v", parts)))
    assert len(done) == 1 and isinstance(done[0], CompleteVideo)
    assert [c.index for c in done[0].clips] == [0, 1, 2]
    measured = done[0].measures  # measured once whole, for the rows to write
    assert len(measured.clips) == 3 and measured.video["motion_mean"] is not None
    assert list(complete(("v", {**parts, "captioned": plan.clips[:2]}))) == []
    assert list(complete(("v", {**parts, "speech": []}))) == []
    assert list(complete(("v", {**parts, "plan": []}))) == []


def test_caption_stage_output_in_a_pipeline(plans) -> None:
    with TestPipeline() as p:
        captioned, _ = p | beam.Create(list(plans[1].clips)) | CaptionClips(VlmConfig(), None)
        assert_that(
            captioned | beam.Map(lambda c: c.clip_id), equal_to([c.clip_id for c in plans[1].clips])
        )
