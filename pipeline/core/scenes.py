"""Scene cuts and clip windows, from per-sample distances; no decoding happens here."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.core.frames import cosine_change
from pipeline.core.settings import Flag, setting
from pipeline.records import Clip, SampledFrames, VideoClips

FRAME_DIFFERENCE = "frame-difference"
DETECTORS = ("signature", "transnetv2", "auto")
TRANSITION_THRESHOLD = 0.5  # TransNetV2's own


@dataclass(frozen=True)
class SceneConfig:
    """Thresholds are on the histogram distance in [0, 1] and the CLIP cosine change in [0, 2].

    A cut is a histogram jump of at least `cut_threshold`; where CLIP embeddings exist, a
    smaller jump (`soft_threshold`) counts when the embedding also changes by `clip_threshold`,
    which catches cuts between scenes of similar colour.
    """

    detector: str = setting(
        "signature",
        flag=Flag(
            "scene-detector",
            "signature: colour-signature distances of the sampled frames, "
            "cuts refined to the frame; transnetv2: TransNetV2 on every frame (weights from its "
            "PyPI package); auto: transnetv2 where it is installed",
            choices=DETECTORS,
        ),
    )
    cut_threshold: float = setting(
        0.35, flag=Flag("cut-threshold", "histogram distance (0-1) that counts as a hard cut")
    )
    soft_threshold: float = 0.2
    clip_threshold: float = 0.25
    min_clip_ms: int = setting(1000, flag=Flag("min-clip-ms"))
    max_clip_ms: int = setting(10_000, flag=Flag("max-clip-ms"))
    keyframes_per_clip: int = setting(
        4, flag=Flag("keyframes-per-clip", "frames sent to the VLM (and scored) per clip")
    )

    def __post_init__(self) -> None:
        if not 0 < self.min_clip_ms <= self.max_clip_ms:
            raise ValueError("need 0 < min clip length <= max clip length")
        if self.keyframes_per_clip < 1:
            raise ValueError("a clip needs at least one keyframe")
        if self.detector not in DETECTORS:
            raise ValueError(f"scene detector must be one of {DETECTORS}")


@dataclass(frozen=True)
class ClipSpan:
    start_ms: int
    end_ms: int
    scene_boundary: bool
    keyframe_ms: tuple[int, ...]


def candidate_cuts(
    distances: np.ndarray, changes: np.ndarray | None, config: SceneConfig
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


def window_cuts(steps: Sequence[float], threshold: float) -> list[int]:
    """Where new scenes start inside a window of frame-to-frame steps (offsets of the steps):
    the sharpest step, and every other step that is a hard cut by itself (`threshold`). A
    shot shorter than the samples' spacing lies between two such steps; with only the
    sharpest, the clip after it would run across the other."""
    hard = (i for i, d in enumerate(steps) if d >= threshold)
    return sorted({sharpest_step(steps), *hard})


def step_cuts(
    steps: Sequence[float],
    windows: Sequence[tuple[int, int]],
    pts_ms: Sequence[int],
    threshold: float,
) -> list[int]:
    """The times of the frames new scenes start on inside each window (first, last) of frame
    indices; `steps` holds the distance from every frame to the next."""
    return [
        pts_ms[first + 1 + k]
        for first, last in windows
        for k in window_cuts(steps[first:last], threshold)
    ]


def _keyframes(sample_ms: Sequence[int], start: int, end: int, count: int) -> tuple[int, ...]:
    inside = [t for t in sample_ms if start <= t < end] or [start]
    if len(inside) <= count:
        return tuple(inside)
    picks = np.linspace(0, len(inside) - 1, count).round().astype(int)
    return tuple(inside[i] for i in dict.fromkeys(picks.tolist()))


def clip_spans(
    cuts_ms: Sequence[int], end_ms: int, sample_ms: Sequence[int], config: SceneConfig
) -> list[ClipSpan]:
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
            spans.append(
                ClipSpan(
                    start_ms=start,
                    end_ms=end,
                    scene_boundary=(i > 0 and k == 0),
                    keyframe_ms=_keyframes(sample_ms, start, end, config.keyframes_per_clip),
                )
            )
    return spans


def transition_cuts(
    probabilities: Sequence[float], pts_ms: Sequence[int], threshold: float = TRANSITION_THRESHOLD
) -> list[int]:
    """Cut times from per-frame transition probabilities (TransNetV2): a shot starts at the
    first frame after a run of transition frames; a run of more than one frame (a fade, a
    dissolve) also ends the shot before it where the run begins, so the transition is a
    span of its own (dropped when shorter than a clip may be)."""
    marked = np.asarray(probabilities) > threshold
    cuts = []
    i, n = 0, len(marked)
    while i < n:
        if not marked[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and marked[j + 1]:
            j += 1
        if j - i >= 1 and i > 0:
            cuts.append(pts_ms[i])
        if j + 1 < n:
            cuts.append(pts_ms[j + 1])
        i = j + 1
    return cuts


def plan_clips(
    sampled: SampledFrames,
    config: SceneConfig,
    refine: Callable[[Sequence[tuple[int, int]]], list[int]],
    cuts_ms: Sequence[int] | None = None,
    detector: str | None = None,
) -> VideoClips:
    """Clips of one video from its sampled frames: candidate cuts from frame differences (and
    CLIP embedding changes where present), placed by `refine` (for the (first, last) pairs
    of sampled frame indices, the timestamps of the first frames of the new scenes between
    them, one or more a pair; all pairs at once, so the video is read in one pass), or the cuts
    another detector found (`cuts_ms`, named `detector`); then spans with their keyframes
    and motion."""
    distances = np.asarray(sampled.distances, dtype=np.float32)
    if cuts_ms is None:
        changes = (
            cosine_change(sampled.embeddings.astype(np.float32))
            if sampled.embeddings is not None
            else None
        )
        positions = candidate_cuts(distances, changes, config)
        cuts = refine([(sampled.frame_index[i], sampled.frame_index[i + 1]) for i in positions])
        detector = (
            FRAME_DIFFERENCE if changes is None else f"{FRAME_DIFFERENCE}+clip:{sampled.clip_model}"
        )
    else:
        cuts = list(cuts_ms)
    spans = clip_spans(cuts, sampled.end_ms, sampled.frame_ms, config)
    position = {t: i for i, t in enumerate(sampled.frame_ms)}
    clips = []
    for index, span in enumerate(spans):
        rows = [position[t] for t in span.keyframe_ms if t in position]
        inside = [
            distances[i]
            for i in range(len(distances))
            if span.start_ms <= sampled.frame_ms[i]
            and i + 1 < len(sampled.frame_ms)
            and sampled.frame_ms[i + 1] < span.end_ms
        ]
        emb = (
            sampled.embeddings[rows].astype(np.float32)
            if sampled.embeddings is not None and rows
            else None
        )
        clips.append(
            Clip(
                video=sampled.video,
                index=index,
                start_ms=span.start_ms,
                end_ms=span.end_ms,
                scene_boundary=span.scene_boundary,
                keyframe_ms=span.keyframe_ms,
                scene_detector=detector or FRAME_DIFFERENCE,
                frame_fps=sampled.fps,
                keyframe_embeddings=emb,
                clip_model=sampled.clip_model,
                motion=float(np.mean(inside)) if inside else None,
            )
        )
    return VideoClips(video=sampled.video, clips=tuple(clips))
