"""InspectKeyframes: what a video's keyframes show besides their captions, for curation: text
on screen (tesseract), the largest face (OpenCV), and a perceptual hash for near-duplicates.

It works on a video's whole scene plan, so the video is opened once and tesseract reads all
its inspected keyframes in one process. `keyframes` frames per clip are read (spread inside
the clip), decoded at `long_side` pixels; the detectors load once per worker. OCR that fails
leaves the text signals null and is counted, rather than holding the video back: signals
inform curation, they are not the data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace

import apache_beam as beam
import numpy as np

from pipeline import metrics
from pipeline.core.settings import Flag, setting
from pipeline.core.signals import dhash
from pipeline.io import storage
from pipeline.io.video import FrameReader
from pipeline.models.faces import FaceDetector
from pipeline.models.handler import ModelHandler
from pipeline.models.ocr import Ocr, PendingText, ScreenText
from pipeline.records import VideoClips
from pipeline.stages.failures import apply_stage
from pipeline.stages.loaded import ModelDoFn


@dataclass(frozen=True)
class InspectConfig:
    """Signals measure the content, they do not change it: none enters the content hash (an
    OUT annotated before them keeps its rows, with the signals null, until --force)."""

    keyframes: int = setting(
        1,
        flag=Flag(
            "inspect-keyframes",
            "keyframes per clip read for on-screen text (tesseract), faces "
            "and a perceptual hash, the curation signals; 0 = off",
        ),
        content=False,
    )
    long_side: int = setting(640, content=False)

    @property
    def enabled(self) -> bool:
        return self.keyframes > 0


@dataclass(frozen=True)
class InspectorsHandler(ModelHandler[tuple[Ocr, FaceDetector]]):
    """tesseract (a binary found on PATH) and OpenCV's face cascade, once per worker."""

    config: None = None

    def load_model(self) -> tuple[Ocr, FaceDetector]:
        return Ocr(), FaceDetector()


def spread(items: tuple[int, ...], n: int) -> list[int]:
    """n keyframes spread inside the clip, away from its edges (a subtitle or a title is
    usually on screen in the middle of a shot)."""
    if len(items) <= n:
        return list(items)
    return [items[round((i + 1) * (len(items) + 1) / (n + 1)) - 1] for i in range(n)]


class _Inspect(ModelDoFn[tuple[Ocr, FaceDetector]]):
    def __init__(self, config: InspectConfig) -> None:
        super().__init__(InspectorsHandler())
        self._config = config

    def setup(self) -> None:
        super().setup()
        self._ocr, self._faces = self.model()

    def _start_ocr(self, frames: list[np.ndarray]) -> PendingText | None:
        try:
            return self._ocr.start(frames)
        except (RuntimeError, OSError, ValueError):
            return None

    def _finish_ocr(self, pending: PendingText | None) -> list[ScreenText] | None:
        """The texts read, or None (counted) where tesseract is there but failed."""
        texts = None
        if pending is not None:
            with contextlib.suppress(RuntimeError, OSError, ValueError):
                texts = pending.result()
        if texts is None and self._ocr.available:
            metrics.counter("signals_ocr_failed").inc()
        return texts

    def process(self, plan: VideoClips) -> Iterator[VideoClips]:
        chosen = [spread(c.keyframe_ms, self._config.keyframes) for c in plan.clips]
        if not self._config.enabled or not any(chosen):
            yield plan
            return
        reader = FrameReader(storage.local_path(plan.video.media.path), self._config.long_side)
        flat = [reader.index_at(t) for times in chosen for t in times]
        frames = reader.frames(flat)
        pending = self._start_ocr(list(frames))
        try:  # tesseract runs in its own process while faces use this one
            faces = [self._faces.largest_face(f) for f in frames]
        finally:
            texts = self._finish_ocr(pending)
        clips, at = [], 0
        for clip, times in zip(plan.clips, chosen, strict=True):
            own = frames[at : at + len(times)]
            read = texts[at : at + len(times)] if texts is not None else []
            face = faces[at : at + len(times)]
            at += len(times)
            if not len(own):
                clips.append(clip)
                continue
            clips.append(
                replace(
                    clip,
                    screen_text=" ".join(r.text for r in read if r.text) if read else None,
                    screen_text_area=max(r.area for r in read) if read else None,
                    face_area=max(face),
                    frame_hash=dhash(own[0].astype("float32").mean(axis=2)),
                    inspector=f"{self._ocr.name}+{self._faces.name}",
                )
            )
        metrics.counter("clips_inspected").inc(len(clips))
        yield replace(plan, clips=tuple(clips))


class InspectKeyframes(beam.PTransform):
    def __init__(self, config: InspectConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, plans: beam.PCollection[VideoClips]):
        return apply_stage(plans, "inspect", _Inspect(self._config))
