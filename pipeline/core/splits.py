"""Split assignment per video: a hash, so every derived row inherits the same split."""

from __future__ import annotations

import hashlib

SPLITS = ("train", "val", "test")


def assign_split(key: str, val_fraction: float = 0.05, test_fraction: float = 0.05) -> str:
    """train/val/test from a stable hash of `key` (a video id, or a channel id)."""
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError("split fractions must be >= 0 and leave room for train")
    bucket = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2**64
    if bucket < test_fraction:
        return "test"
    if bucket < test_fraction + val_fraction:
        return "val"
    return "train"
