"""ScoreClips: caption/frame agreement and the embedding change from the previous clip."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import apache_beam as beam
import numpy as np

from pipeline.core.captions import DRY_RUN_CAPTION
from pipeline.models.clip import ClipConfig, ClipEmbedder
from pipeline.records import Clip, CompleteVideo
from pipeline.stages.failures import apply_stage
from pipeline.stages.frames import shared_embedder

NO_CLIP_MODEL = "none"


def _mean_unit(emb: np.ndarray) -> np.ndarray:
    mean = emb.mean(axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


def score_clips(clips: Sequence[Clip], embedder: ClipEmbedder) -> tuple[Clip, ...]:
    """Scores need the frames' embeddings (from SampleFrames) and the same model's text side;
    without weights, or for a dry-run caption, the score stays null."""
    if not embedder.loaded:
        return tuple(replace(c, clip_model=NO_CLIP_MODEL) for c in clips)
    scorable = [i for i, c in enumerate(clips) if c.keyframe_embeddings is not None
                and c.caption and c.caption != DRY_RUN_CAPTION]
    texts = embedder.embed_texts([clips[i].caption for i in scorable]) if scorable else None
    scores = {i: float((clips[i].keyframe_embeddings @ texts[k]).mean())
              for k, i in enumerate(scorable)}
    out: list[Clip] = []
    previous: np.ndarray | None = None
    for i, clip in enumerate(clips):
        change = None
        if clip.keyframe_embeddings is not None:
            mean = _mean_unit(clip.keyframe_embeddings)
            if previous is not None:
                change = float(1.0 - mean @ previous)
            previous = mean
        out.append(replace(clip, clip_score=scores.get(i), embedding_change=change,
                           clip_model=embedder.name))
    return tuple(out)


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
