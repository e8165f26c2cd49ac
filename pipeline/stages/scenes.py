"""DetectScenes: cuts from the sampled frames, refined to the exact frame, then clips."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import cv2
import numpy as np

from pipeline import metrics
from pipeline.core import frames, scenes
from pipeline.io import storage
from pipeline.io.video import FrameReader
from pipeline.models.handler import ModelHandler
from pipeline.models.transnet import (
    INPUT_SIZE,
    TransNetHandler,
    available,
    transition_probabilities,
)
from pipeline.models.transnet import NAME as TRANSNET
from pipeline.records import SampledFrames, VideoClips
from pipeline.stages.failures import apply_stage
from pipeline.stages.loaded import ModelDoFn

REFINE_SIDE = 96  # cuts are located on small frames; histograms need no detail
TRANSNET_SIDE = 64  # decoded near TransNetV2's 48x27, then resized to it


def refine_cuts(
    reader: FrameReader, windows: Sequence[tuple[int, int]], threshold: float
) -> list[int]:
    """Timestamps of the first frames of the new scenes inside each window (frames
    first+1..last): the sharpest step, and every other hard cut (`scenes.window_cuts`).

    All windows are decoded in one pass in time order: decord decodes from the keyframe
    before each frame it is asked for, so windows that share a keyframe interval (a real
    video's are often 10 s long) are decoded once instead of once per window."""
    wanted = sorted(
        {i for first, last in windows if last - first > 1 for i in range(first, last + 1)}
    )
    sig: dict[int, np.ndarray] = {}
    for part, chunk in reader.chunks(wanted):
        sig.update(zip(part, frames.signatures(chunk), strict=True))
    cuts = []
    for first, last in windows:
        if last - first <= 1:
            cuts.append(reader.pts_ms[last])
            continue
        steps = frames.consecutive_distances(np.stack([sig[i] for i in range(first, last + 1)]))
        cuts += [reader.pts_ms[first + 1 + k] for k in scenes.window_cuts(steps, threshold)]
    return cuts


def detect(sampled: SampledFrames, config: scenes.SceneConfig, transnet: Any = None) -> VideoClips:
    """The clip plan, with cuts placed to the frame by the steps the frames stage measured,
    or (where it decoded only the samples) on the video's frames, opened only if there are
    cuts; with TransNetV2 (`transnet`), its cuts from every frame instead."""
    path = storage.local_path(sampled.video.media.path)

    def refine(windows: Sequence[tuple[int, int]]) -> list[int]:
        if not windows:
            return []
        if sampled.steps is not None and sampled.step_ms is not None:
            return scenes.step_cuts(
                sampled.steps, windows, sampled.step_ms.tolist(), config.cut_threshold
            )
        return refine_cuts(FrameReader(path, REFINE_SIDE), windows, config.cut_threshold)

    if transnet is None:
        return scenes.plan_clips(sampled, config, refine)
    video = FrameReader(path, TRANSNET_SIDE)
    small = []
    for _, chunk in video.chunks(range(len(video))):
        small += [cv2.resize(f, INPUT_SIZE, interpolation=cv2.INTER_AREA) for f in chunk]
    probabilities = transition_probabilities(transnet, np.stack(small))
    cuts = scenes.transition_cuts(probabilities, video.pts_ms)
    return scenes.plan_clips(sampled, config, refine, cuts, TRANSNET)


def uses_transnet(config: scenes.SceneConfig) -> bool:
    return config.detector == TRANSNET or (config.detector == "auto" and available())


@dataclass(frozen=True)
class _NoModel(ModelHandler[None]):
    """The signature detector needs no model."""

    config: Any = None

    def load_model(self) -> None:
        return None


class _Detect(ModelDoFn[Any]):
    def __init__(self, config: scenes.SceneConfig) -> None:
        self._transnet = uses_transnet(config)
        super().__init__(TransNetHandler() if self._transnet else _NoModel())
        self._config = config

    def process(self, sampled: SampledFrames) -> Iterator[VideoClips]:
        plan = detect(sampled, self._config, self.model() if self._transnet else None)
        metrics.counter(metrics.SCENE_CUTS).inc(sum(c.scene_boundary for c in plan.clips))
        metrics.counter(metrics.CLIPS).inc(len(plan.clips))
        yield plan


class DetectScenes(beam.PTransform):
    def __init__(self, config: scenes.SceneConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, sampled: beam.PCollection[SampledFrames]):
        return apply_stage(sampled, "scenes", _Detect(self._config))
