"""Near-duplicate videos (re-uploads, re-encodes) in time linear in the corpus.

Two videos are the same when their lengths are within `duplicate_max_duration_diff`, most of
the shorter one's keyframe hashes (`duplicate_min_frame_share`) lie within
`duplicate_max_frame_bits` of one of the other's, and their transcripts' simhashes are close
(or neither has speech). Checking that for every pair is quadratic: a million videos would
take a week. Instead, locality-sensitive hashing proposes the pairs worth checking: each
keyframe hash is cut into overlapping 24-bit windows, and videos of similar length that share
a window value become candidates; only those are checked, by the exact rule above.

A pair is proposed when any one of its close keyframes agrees exactly on any one window, so
re-encodes (a few bits apart on most frames) are always found; a pair whose every keyframe
sits near the bit limit may not be (bench/dedup.py measures both, against the exact check).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.core.curation import Policy

WINDOW_BITS = 24
WINDOWS = 8  # at offsets 0, 8, ... 56 of the 64 bits, wrapping around
MAX_SHARED = 1000  # a window value this many videos of one length share is a plain picture
SMALL_RUN = 16  # runs of videos sharing a key paired at once
CHUNK_PAIRS = 1 << 16  # pairs checked at once (a few keyframes squared bytes each)


@dataclass(frozen=True)
class Fingerprint:
    video_id: str
    duration_ms: int
    height: int | None
    frame_hashes: tuple[int, ...]
    transcript: int | None


def _length_buckets(durations: np.ndarray, max_diff: float) -> np.ndarray:
    """Buckets on a log scale one allowed ratio wide: two videos close enough in length
    fall in the same bucket or in neighbouring ones."""
    if max_diff >= 1:
        return np.zeros(len(durations), dtype=np.uint64)
    width = -math.log1p(-max_diff) if max_diff > 0 else 1e-9
    return np.floor(np.log(np.maximum(durations, 1)) / width).astype(np.uint64)


def _rotate(values: np.ndarray, offset: int) -> np.ndarray:
    if offset == 0:
        return values
    return (values >> np.uint64(offset)) | (values << np.uint64(64 - offset))


def candidate_pairs(videos: Sequence[Fingerprint], policy: Policy) -> np.ndarray:
    """(i, j) index pairs, i < j, worth checking: similar length and one keyframe window in
    common. One sort per window: time and memory grow with the number of keyframes."""
    owner = np.fromiter((i for i, v in enumerate(videos) for _ in v.frame_hashes), dtype=np.int64)
    hashes = np.fromiter(
        (h for v in videos for h in v.frame_hashes), dtype=np.int64, count=len(owner)
    ).view(np.uint64)
    if not len(owner):  # no keyframe hashes measured: nothing to propose
        return np.zeros((0, 2), dtype=np.int64)
    durations = np.array([v.duration_ms for v in videos], dtype=np.float64)
    bucket = _length_buckets(durations, policy.duplicate_max_duration_diff)[owner]
    mask = np.uint64((1 << WINDOW_BITS) - 1)
    found = []
    for window in range(WINDOWS):
        value = _rotate(hashes, window * 64 // WINDOWS) & mask
        # each entry under its length bucket and the next, so neighbours meet
        keys = np.concatenate([(bucket << np.uint64(WINDOW_BITS)) | value] * 2)
        keys[len(value) :] += np.uint64(1 << WINDOW_BITS)
        who = np.concatenate([owner, owner]).astype(np.uint64)
        found.extend(_pairs_in_runs(*_sorted(keys, who, len(videos))))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found).astype(np.int64)
    packed = np.unique(pairs[:, 0] * len(videos) + pairs[:, 1])  # one sort of one column
    return np.stack([packed // len(videos), packed % len(videos)], axis=1)


def _sorted(keys: np.ndarray, who: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys, who) sorted by key, then video: packed into one integer where both fit in 64
    bits (one plain sort), else sorted on both."""
    who_bits = max(int(n - 1).bit_length(), 1)
    if int(keys.max(initial=0)).bit_length() + who_bits <= 64:
        packed = np.sort((keys << np.uint64(who_bits)) | who)
        return packed >> np.uint64(who_bits), (packed & np.uint64((1 << who_bits) - 1))
    order = np.lexsort((who, keys))
    return keys[order], who[order]


def _pairs_in_runs(keys: np.ndarray, who: np.ndarray) -> Iterator[np.ndarray]:
    """Every pair of different videos within each run of equal keys (sorted by key; a run
    holds a video's entries next to each other). Runs of up to SMALL_RUN videos, nearly all
    of them, are paired at once, a distance at a time; longer ones one by one."""
    fresh = np.r_[True, (keys[1:] != keys[:-1]) | (who[1:] != who[:-1])]
    keys, who = keys[fresh], who[fresh]  # a video once per key (repeated keyframes)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    small = (sizes >= 2) & (sizes <= SMALL_RUN)
    runs = sizes[small]
    place = np.arange(runs.sum()) - np.repeat(np.cumsum(runs) - runs, runs)  # within its run
    at = np.repeat(starts[small], runs) + place
    size = np.repeat(runs, runs)
    for d in range(1, SMALL_RUN):
        i = at[place + d < size]
        if not len(i):
            break
        yield np.stack([np.minimum(who[i], who[i + d]), np.maximum(who[i], who[i + d])], axis=1)
    for start, n in zip(starts[sizes > SMALL_RUN], sizes[sizes > SMALL_RUN], strict=True):
        members = np.unique(who[start : start + n])
        if len(members) > MAX_SHARED:
            continue
        i, j = np.triu_indices(len(members), k=1)
        yield np.stack([members[i], members[j]], axis=1)


def _same_pairs(videos: Sequence[Fingerprint], pairs: np.ndarray, policy: Policy) -> np.ndarray:
    """Which pairs are duplicates by the exact rule (module docstring), vectorised."""
    width = max((len(v.frame_hashes) for v in videos), default=0)
    if not len(pairs) or width == 0:
        return np.zeros(len(pairs), dtype=bool)
    n = len(videos)
    table = np.zeros((n, width), dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for i, v in enumerate(videos):
        table[i, : len(v.frame_hashes)] = v.frame_hashes
        count[i] = len(v.frame_hashes)
    durations = np.array([v.duration_ms for v in videos], dtype=np.float64)
    spoken = np.array([v.transcript is not None for v in videos])
    text = np.array([v.transcript or 0 for v in videos], dtype=np.int64).view(np.uint64)
    same = np.zeros(len(pairs), dtype=bool)
    for at in range(0, len(pairs), CHUNK_PAIRS):
        i, j = pairs[at : at + CHUNK_PAIRS, 0], pairs[at : at + CHUNK_PAIRS, 1]
        longer = np.maximum(durations[i], durations[j])
        ok = np.abs(durations[i] - durations[j]) <= policy.duplicate_max_duration_diff * longer
        ok &= (count[i] > 0) & (count[j] > 0)
        # the shorter list is matched into the other; on equal lists, the shorter video's
        # (then the first's), as the pairwise rule always did
        first = (count[i] < count[j]) | ((count[i] == count[j]) & (durations[i] <= durations[j]))
        short, other = np.where(first, i, j), np.where(first, j, i)
        bits = np.bitwise_count(
            table[short][:, :, None].view(np.uint64) ^ table[other][:, None, :].view(np.uint64)
        )
        valid = np.arange(width)[None, :] < count[other][:, None]
        nearest = np.where(valid[:, None, :], bits, 65).min(axis=2)
        own = np.arange(width)[None, :] < count[short][:, None]
        close = ((nearest <= policy.duplicate_max_frame_bits) & own).sum(axis=1)
        ok &= close / np.maximum(count[short], 1) >= policy.duplicate_min_frame_share
        both, either = spoken[i] & spoken[j], spoken[i] | spoken[j]
        text_bits = np.bitwise_count(text[i] ^ text[j])
        ok &= np.where(both, text_bits <= policy.duplicate_max_text_bits, ~either)
        same[at : at + CHUNK_PAIRS] = ok
    return same


def all_pairs(videos: Sequence[Fingerprint], policy: Policy) -> np.ndarray:
    """Every pair within the allowed length difference: the exact search LSH replaces, kept
    as the reference the bench compares with."""
    order = sorted(range(len(videos)), key=lambda k: videos[k].duration_ms)
    pairs = []
    for x, a in enumerate(order):
        for b in order[x + 1 :]:
            da, db = videos[a].duration_ms, videos[b].duration_ms
            if db - da > policy.duplicate_max_duration_diff * db:
                break
            pairs.append((min(a, b), max(a, b)))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def duplicate_groups(
    videos: Sequence[Fingerprint], policy: Policy, exhaustive: bool = False
) -> dict[str, str]:
    """Non-keeper video id -> its group's keeper (the highest resolution, then the longest,
    then the smallest id). `exhaustive` checks every pair of similar length instead of the
    LSH candidates (the reference; quadratic)."""
    if not policy.duplicates or len(videos) < 2:
        return {}
    pairs = (all_pairs if exhaustive else candidate_pairs)(videos, policy)
    pairs = pairs[_same_pairs(videos, pairs, policy)]
    parent = list(range(len(videos)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs.tolist():
        parent[root(b)] = root(a)
    groups: dict[int, list[Fingerprint]] = {}
    for k, v in enumerate(videos):
        groups.setdefault(root(k), []).append(v)
    out = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        keeper = max(members, key=lambda v: (v.height or 0, v.duration_ms, _neg(v.video_id)))
        out.update({v.video_id: keeper.video_id for v in members if v is not keeper})
    return out


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)
