"""InspectKeyframes: what a clip's keyframes show besides their caption, for curation: text on
screen (tesseract), the largest face (OpenCV), and a perceptual hash for near-duplicates.

Up to `keyframes` frames per clip are read, decoded at `long_side` pixels; the detectors are
loaded once per worker. A detector that fails on one clip leaves that clip's signal null and
counts it, rather than holding the video back: signals inform curation, they are not the data.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, replace

import apache_beam as beam
import numpy as np

from pipeline import metrics
from pipeline.core.signals import dhash
from pipeline.io import storage
from pipeline.io.video import FrameReader
from pipeline.models.faces import FaceDetector
from pipeline.models.ocr import Ocr
from pipeline.records import Clip
from pipeline.stages.failures import apply_stage


@dataclass(frozen=True)
class InspectConfig:
    enabled: bool = True
    keyframes: int = 2
    long_side: int = 640


@functools.lru_cache(maxsize=1)
def shared_inspectors() -> tuple[Ocr, FaceDetector]:
    return Ocr(), FaceDetector()


def _spread(items: tuple[int, ...], n: int) -> list[int]:
    """n keyframes spread inside the clip, away from its edges (a subtitle or a title is
    usually on screen in the middle of a shot)."""
    if len(items) <= n:
        return list(items)
    return [items[round((i + 1) * (len(items) + 1) / (n + 1)) - 1] for i in range(n)]


class _Inspect(beam.DoFn):
    def __init__(self, config: InspectConfig) -> None:
        self._config = config

    def setup(self) -> None:
        self._ocr, self._faces = shared_inspectors()

    def process(self, clip: Clip) -> Iterator[Clip]:
        if not self._config.enabled or not clip.keyframe_ms:
            yield clip
            return
        reader = FrameReader(storage.local_path(clip.video.media.path), self._config.long_side)
        times = _spread(clip.keyframe_ms, self._config.keyframes)
        frames = reader.frames([reader.index_at(t) for t in times])
        gray = frames.astype(np.float32).mean(axis=3)
        texts, areas = [], []
        try:
            for frame in frames:
                read = self._ocr.read(frame)
                if read is not None:
                    texts.append(read.text)
                    areas.append(read.area)
        except (RuntimeError, OSError, ValueError):
            metrics.counter("signals_ocr_failed").inc()
            texts, areas = [], []
        face = max(self._faces.largest_face(f) for f in frames)
        metrics.counter("clips_inspected").inc()
        yield replace(clip, screen_text=" ".join(t for t in texts if t) if areas else None,
                      screen_text_area=max(areas) if areas else None, face_area=face,
                      frame_hash=dhash(gray[0]),
                      inspector=f"{self._ocr.name}+{self._faces.name}")


class InspectKeyframes(beam.PTransform):
    def __init__(self, config: InspectConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, clips: beam.PCollection[Clip]):
        return apply_stage(clips, "inspect", _Inspect(self._config))
