"""ScoreClips: caption/frame agreement and the embedding change from the previous clip."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import apache_beam as beam

from pipeline.core.scores import score_clips
from pipeline.models.clip import ClipConfig, ClipEmbedder
from pipeline.records import CompleteVideo
from pipeline.stages.failures import apply_stage
from pipeline.stages.frames import shared_embedder


class _Score(beam.DoFn):
    def __init__(self, config: ClipConfig) -> None:
        self._config = config
        self._embedder: ClipEmbedder | None = None

    def setup(self) -> None:
        self._embedder = shared_embedder(self._config)

    def process(self, video: CompleteVideo) -> Iterator[CompleteVideo]:
        assert self._embedder is not None, "setup() loads the model"
        yield replace(video, clips=score_clips(video.clips, self._embedder))


class ScoreClips(beam.PTransform):
    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, videos: beam.PCollection[CompleteVideo]):
        return apply_stage(videos, "score", _Score(self._config))
