"""Decoding frames with decord, in bounded chunks, on the video's own timeline."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from pipeline.core.frames import decode_size

CHUNK = 32  # frames decoded at once: memory stays flat however long the video is


def import_decord() -> Any:
    """decord2's import dlopens every library of the nvidia-* wheels with RTLD_GLOBAL, libnvblas
    included; a torch loaded after that resolves its CPU matmuls to nvblas and segfaults. With
    torch loaded first, its own BLAS symbols win."""
    import torch  # noqa: F401, I001  (first: load order matters, see above)
    import decord

    return decord


class DecodeError(RuntimeError):
    """decord could not open or decode the file."""


def _open_scaled(
    path: str, width: int, height: int, long_side: int, threads: int
) -> tuple[object, tuple]:
    """A reader that decodes at about `long_side`. decord's scaler rejects some sizes (for
    320x240 input, 96x72 and 144x108 fail on the first batch), so each size is tried once."""
    decord = import_decord()

    error: Exception | None = None
    native = max(width, height)
    for side in [*range(min(long_side, native), native, 16), native]:
        size = decode_size(width, height, side)
        reader = decord.VideoReader(path, width=size[0], height=size[1], num_threads=threads)
        try:
            if reader.get_batch([0]).shape[1:3] == (size[1], size[0]):
                reader.seek(0)
                return reader, size
        except decord.DECORDError as exc:
            error = exc
    raise DecodeError(f"decord cannot scale {width}x{height} frames ({error})")


class FrameReader:
    """One opened video at a fixed decode size. Times are ms from the first frame's PTS."""

    def __init__(self, path: str, long_side: int, threads: int = 0) -> None:
        """threads: decoder threads, 0 = as many as decord sees fit."""
        decord = import_decord()

        try:
            native = decord.VideoReader(path, num_threads=1)
            height, width = native[0].shape[:2]
            del native
            self._reader, (w, h) = _open_scaled(path, width, height, long_side, threads)
            stamps = self._reader.get_frame_timestamp(range(len(self._reader)))
        except (decord.DECORDError, RuntimeError) as exc:  # decord raises both
            raise DecodeError(f"decord cannot read {path}: {str(exc).splitlines()[-1]}") from exc
        if not len(stamps):
            raise DecodeError(f"no video frames in {path}")
        first = float(stamps[0][0])
        self.pts_ms: list[int] = [round((float(s) - first) * 1000) for s, _ in stamps]
        self.end_ms: int = round((float(stamps[-1][1]) - first) * 1000)
        if self.end_ms <= self.pts_ms[-1]:  # the last frame's duration is sometimes unknown
            step = self.pts_ms[-1] - self.pts_ms[-2] if len(self.pts_ms) > 1 else 40
            self.end_ms = self.pts_ms[-1] + step
        self.size = (w, h)

    def __len__(self) -> int:
        return len(self.pts_ms)

    def keyframe_interval(self) -> float:
        """Frames per codec keyframe, on average: about how many frames the decoder must
        decode to reach one frame it is asked for."""
        return len(self) / max(len(self._reader.get_key_indices()), 1)

    def frames(self, indices: Sequence[int]) -> np.ndarray:
        """Decode a few frames (N x H x W x 3, uint8); callers keep N small."""
        decord = import_decord()

        try:
            return self._reader.get_batch(list(indices)).asnumpy()
        except decord.DECORDError as exc:
            raise DecodeError(f"decode failed: {str(exc).splitlines()[-1]}") from exc

    def chunks(self, indices: Sequence[int]) -> Iterator[tuple[list[int], np.ndarray]]:
        """Frames for many indices, CHUNK at a time, in index order."""
        ordered = sorted(indices)
        for i in range(0, len(ordered), CHUNK):
            part = ordered[i : i + CHUNK]
            yield part, self.frames(part)

    def index_at(self, ms: int) -> int:
        """The frame on screen at `ms` (the last one whose PTS is <= ms)."""
        import bisect

        return max(bisect.bisect_right(self.pts_ms, ms) - 1, 0)


def frame_end_times(path: str) -> tuple[float, ...]:
    """Each frame's end time in seconds on the stream's own clock, as decord reports it (what
    LiveCC's reader compares a window with); DecodeError where decord cannot read the file."""
    decord = import_decord()

    try:
        reader = decord.VideoReader(path, num_threads=1)
        stamps = reader.get_frame_timestamp(range(len(reader)))
    except (decord.DECORDError, RuntimeError) as exc:  # decord raises both
        raise DecodeError(f"decord cannot read {path}: {str(exc).splitlines()[-1]}") from exc
    return tuple(float(end) for _, end in stamps)


def jpeg_bytes(frame: np.ndarray, quality: int) -> bytes:
    """One H x W x 3 uint8 frame as a baseline JPEG (what a data URL for a VLM carries)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def frames_at(path: str, times_ms: Sequence[int], long_side: int, quality: int = 85) -> list[bytes]:
    """The frames on screen at each time (ms on the video's timeline) as JPEGs, decoded at
    about `long_side`: what an eval runner shows a model."""
    if not times_ms:
        return []
    reader = FrameReader(path, long_side)
    indices = [reader.index_at(t) for t in times_ms]
    decoded = {}
    for part, frames in reader.chunks(sorted(set(indices))):
        decoded.update({i: jpeg_bytes(f, quality) for i, f in zip(part, frames, strict=True)})
    return [decoded[i] for i in indices]
