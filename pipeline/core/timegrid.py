"""The frame grid a streaming sample is cut on: user times floor to it, assistant times ceil."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

FRAME_SNAP = "user-floor/assistant-ceil"


@dataclass(frozen=True)
class FrameGrid:
    """Frames at `origin_ms + k / fps`; times are int64 ms on the video's timeline."""

    fps: Fraction
    origin_ms: int = 0

    def frame_floor(self, ms: int) -> int:
        return math.floor((ms - self.origin_ms) * self.fps / 1000)

    def frame_ceil(self, ms: int) -> int:
        return math.ceil((ms - self.origin_ms) * self.fps / 1000)

    def time_of(self, frame: int) -> int:
        """Start of frame `frame` in ms, rounded up so that time_of(frame_ceil(t)) >= t."""
        return self.origin_ms + math.ceil(frame * 1000 / self.fps)

    def floor(self, ms: int) -> int:
        """The last grid time at or before `ms` (time_of rounds up, so step back if needed)."""
        frame = self.frame_floor(ms)
        start = self.time_of(frame)
        return start if start <= ms else self.time_of(frame - 1)

    def ceil(self, ms: int) -> int:
        return self.time_of(self.frame_ceil(ms))
