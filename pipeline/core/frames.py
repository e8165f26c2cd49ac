"""Frame-time selection and frame signatures: which decoded frames to look at, and how alike.

Frames are chosen from the decoded presentation timestamps, never from index arithmetic: a
stride of round(fps) drifts at 29.97 fps and means nothing on a variable-frame-rate file.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

_BINS = 16
_GRID = 2  # signatures are histograms of a 2x2 grid of cells, so layout changes count too


def select_frames(pts_ms: Sequence[int], fps: float) -> list[int]:
    """Indices of the frames on screen at 0, 1/fps, 2/fps, ... (each frame at most once).

    The frame on screen at time t is the last one whose timestamp is <= t. `pts_ms` must be
    sorted and start at the timeline's zero (the first frame).
    """
    if fps <= 0:
        raise ValueError("sample fps must be positive")
    if not pts_ms:
        return []
    step = 1000.0 / fps
    last = pts_ms[-1]
    chosen: list[int] = []
    k = 0
    while k * step <= last:
        index = bisect.bisect_right(pts_ms, k * step) - 1
        if not chosen or index != chosen[-1]:
            chosen.append(index)
        k += 1
    return chosen


def decode_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Decoder output size with the aspect ratio kept and even sides."""
    scale = long_side / max(width, height)
    w, h = (round(width * scale / 2) * 2, round(height * scale / 2) * 2)
    return max(w, 16), max(h, 16)


def signatures(frames: np.ndarray) -> np.ndarray:
    """Per-frame colour histograms (per channel, per grid cell), each cell summing to 1.

    Histograms barely move when a test pattern scrolls or zooms within a scene, and jump at a
    hard cut; the grid keeps two scenes with the same palette apart.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected N x H x W x 3 frames, got shape {frames.shape}")
    n, h, w, _ = frames.shape
    if n == 0:
        return np.zeros((0, _GRID * _GRID * 3 * _BINS), dtype=np.float32)
    rows = (np.arange(n, dtype=np.intp) * _BINS)[:, None]  # one bincount counts every frame
    cells = []
    for gy in range(_GRID):
        for gx in range(_GRID):
            cell = frames[
                :, gy * h // _GRID : (gy + 1) * h // _GRID, gx * w // _GRID : (gx + 1) * w // _GRID
            ].reshape(n, -1, 3)
            for c in range(3):
                binned = cell[:, :, c] // (256 // _BINS) + rows
                counts = np.bincount(binned.ravel(), minlength=n * _BINS)
                cells.append(counts.reshape(n, _BINS) / max(cell.shape[1], 1))
    return np.concatenate(cells, axis=1).astype(np.float32)


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Histogram distance in [0, 1]: half the L1 distance, averaged over cells and channels."""
    cells = _GRID * _GRID * 3
    return np.abs(np.asarray(a) - np.asarray(b)).sum(axis=-1) / (2 * cells)


def consecutive_distances(sigs: np.ndarray) -> np.ndarray:
    """Distance between each signature and the next (length n - 1)."""
    if len(sigs) < 2:
        return np.zeros(0, dtype=np.float32)
    return distance(sigs[:-1], sigs[1:]).astype(np.float32)


def cosine_change(embeddings: np.ndarray) -> np.ndarray:
    """1 - cosine similarity between consecutive (unit-norm) embeddings (length n - 1)."""
    if len(embeddings) < 2:
        return np.zeros(0, dtype=np.float32)
    return (1.0 - (embeddings[:-1] * embeddings[1:]).sum(axis=1)).astype(np.float32)
