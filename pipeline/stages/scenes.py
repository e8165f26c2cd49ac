"""DetectScenes: cuts from the sampled frames, refined to the exact frame, then clips."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import numpy as np

from pipeline import metrics
from pipeline.core import frames, scenes
from pipeline.io import storage
from pipeline.io.video import FrameReader
from pipeline.records import Clip, SampledFrames, VideoClips
from pipeline.stages.failures import apply_stage

REFINE_SIDE = 96  # cuts are located on small frames; histograms need no detail
FRAME_DIFFERENCE = "frame-difference"


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
    distances = np.asarray(sampled.distances, dtype=np.float32)
    changes = (frames.cosine_change(sampled.embeddings.astype(np.float32))
               if sampled.embeddings is not None else None)
    positions = scenes.candidate_cuts(distances, changes, config)
    cuts: list[int] = []
    if positions:
        reader = FrameReader(storage.local_path(sampled.video.media.path), REFINE_SIDE)
        cuts = [refine_cut(reader, sampled.frame_index[i], sampled.frame_index[i + 1])
                for i in positions]
    detector = (FRAME_DIFFERENCE if changes is None
                else f"{FRAME_DIFFERENCE}+clip:{sampled.clip_model}")
    spans = scenes.clip_spans(cuts, sampled.end_ms, sampled.frame_ms, config)
    position = {t: i for i, t in enumerate(sampled.frame_ms)}
    clips = []
    for index, span in enumerate(spans):
        rows = [position[t] for t in span.keyframe_ms if t in position]
        inside = [distances[i] for i in range(len(distances))
                  if span.start_ms <= sampled.frame_ms[i] and i + 1 < len(sampled.frame_ms)
                  and sampled.frame_ms[i + 1] < span.end_ms]
        emb = (sampled.embeddings[rows].astype(np.float32)
               if sampled.embeddings is not None and rows else None)
        clips.append(Clip(
            video=sampled.video, index=index, start_ms=span.start_ms, end_ms=span.end_ms,
            scene_boundary=span.scene_boundary, keyframe_ms=span.keyframe_ms,
            scene_detector=detector, frame_fps=sampled.fps, keyframe_embeddings=emb,
            clip_model=sampled.clip_model,
            motion=float(np.mean(inside)) if inside else None))
    return VideoClips(video=sampled.video, clips=tuple(clips))


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
