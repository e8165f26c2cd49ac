"""SampleFrames: frames at a fixed rate on the decoded timeline, as signatures and embeddings.

Only small per-frame summaries leave this stage; frames are decoded CHUNK at a time, so a
two-hour video needs no more memory than a two-minute one beyond its summaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
import numpy as np

from pipeline import metrics
from pipeline.core import frames
from pipeline.core.settings import Flag, setting
from pipeline.io import storage
from pipeline.io.video import FrameReader
from pipeline.models.clip import ClipConfig, ClipEmbedder, ClipHandler
from pipeline.records import SampledFrames, Video
from pipeline.stages.failures import apply_stage
from pipeline.stages.loaded import ModelDoFn


@dataclass(frozen=True)
class FrameConfig:
    fps: float = setting(
        1.0, flag=Flag("frame-fps", "frames sampled per second for scene detection and keyframes")
    )
    long_side: int = 224  # decode size: enough for CLIP, small for histograms
    decode_threads: int = setting(0, content=False)  # 0: decord's choice

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError("--frame-fps must be positive")


STEP_STRIDE = 2  # every frame's signature for cut refinement is taken on every other pixel


def sample_frames(
    video: Video, config: FrameConfig, embedder: ClipEmbedder | None
) -> SampledFrames:
    """Samples at `config.fps`. Where the codec's keyframes lie further apart than the
    samples (most real videos), reaching each sample decodes the frames between anyway, so
    every frame is read: the steps between them (`steps`) place each possible cut to the
    frame, and scene detection need not decode the video again."""
    reader = FrameReader(
        storage.local_path(video.media.path), config.long_side, config.decode_threads
    )
    chosen = frames.select_frames(reader.pts_ms, config.fps)
    every = reader.keyframe_interval() > len(reader) / max(len(chosen), 1)
    picked = set(chosen)
    sigs, embs, steps = [], [], []
    last = None  # the previous chunk's last frame signature, for the step across chunks
    for part, chunk in reader.chunks(range(len(reader)) if every else chosen):
        if every:
            small = frames.signatures(chunk[:, ::STEP_STRIDE, ::STEP_STRIDE])
            joined = small if last is None else np.concatenate([last[None], small])
            steps.append(frames.consecutive_distances(joined))
            last = small[-1]
            chunk = chunk[[k for k, i in enumerate(part) if i in picked]]
            if not len(chunk):
                continue
        sigs.append(frames.signatures(chunk))
        if embedder is not None and embedder.loaded:
            embs.append(embedder.embed_images(chunk).astype(np.float16))
    sig = np.concatenate(sigs)
    return SampledFrames(
        video=video,
        frame_ms=tuple(reader.pts_ms[i] for i in chosen),
        frame_index=tuple(chosen),
        distances=tuple(float(d) for d in frames.consecutive_distances(sig)),
        end_ms=reader.end_ms,
        fps=config.fps,
        embeddings=np.concatenate(embs) if embs else None,
        clip_model=embedder.name if embedder is not None else None,
        steps=np.concatenate(steps) if every else None,
        step_ms=np.asarray(reader.pts_ms, dtype=np.int64) if every else None,
    )


class _Sample(ModelDoFn[ClipEmbedder]):
    def __init__(self, config: FrameConfig, clip: ClipConfig) -> None:
        super().__init__(ClipHandler(clip))
        self._config = config

    def process(self, video: Video) -> Iterator[SampledFrames]:
        sampled = sample_frames(video, self._config, self.model())
        metrics.counter(metrics.FRAMES_SAMPLED).inc(len(sampled.frame_ms))
        yield sampled


class SampleFrames(beam.PTransform):
    def __init__(self, config: FrameConfig, clip: ClipConfig) -> None:
        super().__init__()
        self._config = config
        self._clip = clip

    def expand(self, videos: beam.PCollection[Video]):
        return apply_stage(
            videos | "Spread" >> beam.Reshuffle(), "frames", _Sample(self._config, self._clip)
        )
