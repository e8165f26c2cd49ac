"""DetectScenes: cuts from the sampled frames, refined to the exact frame, then clips."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import numpy as np

from pipeline import metrics
from pipeline.core import frames, scenes
from pipeline.io import storage
from pipeline.io.video import FrameReader
from pipeline.records import SampledFrames, VideoClips
from pipeline.stages.failures import apply_stage

REFINE_SIDE = 96  # cuts are located on small frames; histograms need no detail


def refine_cut(reader: FrameReader, first: int, last: int) -> int:
    """Timestamp of the first frame of the new scene, somewhere in frames first+1..last."""
    if last - first <= 1:
        return reader.pts_ms[last]
    steps = []
    for _, chunk in reader.chunks(range(first, last + 1)):
        steps.append(frames.signatures(chunk))
    sig = np.concatenate(steps)
    return reader.pts_ms[first + 1 + scenes.sharpest_step(frames.consecutive_distances(sig))]


def detect(sampled: SampledFrames, config: scenes.SceneConfig) -> VideoClips:
    """The clip plan, with cuts refined on the video's frames (opened only if there are)."""
    reader: list[FrameReader] = []

    def refine(first: int, last: int) -> int:
        if not reader:
            reader.append(FrameReader(storage.local_path(sampled.video.media.path),
                                      REFINE_SIDE))
        return refine_cut(reader[0], first, last)

    return scenes.plan_clips(sampled, config, refine)


class _Detect(beam.DoFn):
    def __init__(self, config: scenes.SceneConfig) -> None:
        self._config = config

    def process(self, sampled: SampledFrames) -> Iterator[VideoClips]:
        plan = detect(sampled, self._config)
        metrics.counter(metrics.SCENE_CUTS).inc(sum(c.scene_boundary for c in plan.clips))
        metrics.counter(metrics.CLIPS).inc(len(plan.clips))
        yield plan


class DetectScenes(beam.PTransform):
    def __init__(self, config: scenes.SceneConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, sampled: beam.PCollection[SampledFrames]):
        return apply_stage(sampled, "scenes", _Detect(self._config))
