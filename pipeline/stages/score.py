"""ScoreClips: caption/frame agreement and the embedding change from the previous clip."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import apache_beam as beam

from pipeline.core.scores import score_clips
from pipeline.models.clip import ClipConfig, ClipEmbedder, ClipHandler
from pipeline.records import CompleteVideo
from pipeline.stages.failures import apply_stage
from pipeline.stages.loaded import ModelDoFn


class _Score(ModelDoFn[ClipEmbedder]):
    """The frames stage's CLIP: an equal ClipHandler gives the same loaded model."""

    def process(self, video: CompleteVideo) -> Iterator[CompleteVideo]:
        yield replace(video, clips=score_clips(video.clips, self.model()))


class ScoreClips(beam.PTransform):
    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, videos: beam.PCollection[CompleteVideo]):
        return apply_stage(videos, "score", _Score(ClipHandler(self._config)))
