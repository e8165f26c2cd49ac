"""Scene cuts and clip windows, from per-sample distances; no decoding happens here."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SceneConfig:
    """Thresholds are on the histogram distance in [0, 1] and the CLIP cosine change in [0, 2].

    A cut is a histogram jump of at least `cut_threshold`; where CLIP embeddings exist, a
    smaller jump (`soft_threshold`) counts when the embedding also changes by `clip_threshold`,
    which catches cuts between scenes of similar colour.
    """

    cut_threshold: float = 0.35
    soft_threshold: float = 0.2
    clip_threshold: float = 0.25
    min_clip_ms: int = 1000
    max_clip_ms: int = 10_000
    keyframes_per_clip: int = 4

    def __post_init__(self) -> None:
        if not 0 < self.min_clip_ms <= self.max_clip_ms:
            raise ValueError("need 0 < min clip length <= max clip length")
        if self.keyframes_per_clip < 1:
            raise ValueError("a clip needs at least one keyframe")


@dataclass(frozen=True)
class ClipSpan:
    start_ms: int
    end_ms: int
    scene_boundary: bool
    keyframe_ms: tuple[int, ...]


def candidate_cuts(distances: np.ndarray, changes: np.ndarray | None, config: SceneConfig
                   ) -> list[int]:
    """Positions i where a cut lies between sample i and sample i + 1."""
    hard = distances >= config.cut_threshold
    if changes is not None and len(changes) == len(distances):
        hard |= (distances >= config.soft_threshold) & (changes >= config.clip_threshold)
    return [int(i) for i in np.flatnonzero(hard)]


def sharpest_step(distances: Sequence[float]) -> int:
    """Index of the largest jump between consecutive frames: the refined cut position."""
    if not len(distances):
        raise ValueError("no frames to refine a cut between")
    return int(np.argmax(np.asarray(distances)))


def _keyframes(sample_ms: Sequence[int], start: int, end: int, count: int) -> tuple[int, ...]:
    inside = [t for t in sample_ms if start <= t < end] or [start]
    if len(inside) <= count:
        return tuple(inside)
    picks = np.linspace(0, len(inside) - 1, count).round().astype(int)
    return tuple(inside[i] for i in dict.fromkeys(picks.tolist()))


def clip_spans(cuts_ms: Sequence[int], end_ms: int, sample_ms: Sequence[int],
               config: SceneConfig) -> list[ClipSpan]:
    """Clips that never cross a cut: scenes shorter than the minimum are left out, long ones
    are split into equal windows no longer than the maximum."""
    bounds = [0, *sorted(c for c in set(cuts_ms) if 0 < c < end_ms), end_ms]
    spans: list[ClipSpan] = []
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        if b - a < config.min_clip_ms:
            continue
        windows = math.ceil((b - a) / config.max_clip_ms)
        edges = [a + round((b - a) * k / windows) for k in range(windows + 1)]
        for k in range(windows):
            start, end = edges[k], edges[k + 1]
            spans.append(ClipSpan(
                start_ms=start, end_ms=end, scene_boundary=(i > 0 and k == 0),
                keyframe_ms=_keyframes(sample_ms, start, end, config.keyframes_per_clip)))
    return spans
