"""On-screen text with tesseract (Debian's tesseract-ocr, English data), which runs offline.

Each picture is scaled so its short side is at least 540 px (tesseract reads text of about 20
px or more), then read with automatic page segmentation (`--psm 3`: sparse-text mode, 11,
spends seconds on busy textures such as a cellular automaton); words below a confidence of 60
are dropped. A light blur first keeps busy textures from costing seconds. Where the binary
is missing, `available` is False and the signal is null.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIN_CONFIDENCE = 60.0
MIN_SHORT_SIDE = 540
# Single-pixel texture (noise, grain, a cellular automaton) makes tesseract's layout analysis
# up to 4x slower and reads nothing; a blur of this sigma at the OCR scale removes it and
# leaves text of 20 px and more as it was (measured on the synthetic test media).
BLUR_SIGMA = 1.2


@dataclass(frozen=True)
class ScreenText:
    text: str
    area: float  # share of the picture covered by the boxes of the words read


class Ocr:
    def __init__(self, binary: str = "tesseract", timeout_s: float = 30.0) -> None:
        self.binary = shutil.which(binary)
        self.timeout_s = timeout_s

    @property
    def available(self) -> bool:
        return self.binary is not None

    @property
    def name(self) -> str:
        return "tesseract" if self.available else "none"

    def read(self, frame: np.ndarray) -> ScreenText | None:
        """Words on one H x W x 3 uint8 frame, or None without tesseract."""
        found = self.read_many([frame])
        return found[0] if found is not None else None

    def read_many(self, frames: Sequence[np.ndarray]) -> list[ScreenText] | None:
        """Words on each frame, or None without tesseract."""
        pending = self.start(frames)
        return pending.result() if pending is not None else None

    def start(self, frames: Sequence[np.ndarray]) -> PendingText | None:
        """Start one tesseract process on all the frames (its start-up and model load are most
        of the cost of a small picture) and return at once, so the caller can use the other
        core meanwhile; None without tesseract."""
        if self.binary is None:
            return None
        from PIL import Image, ImageFilter

        tmp = tempfile.TemporaryDirectory()
        sizes, listed = [], []
        for i, frame in enumerate(frames):
            picture = Image.fromarray(frame).convert("L")
            scale = max(1.0, MIN_SHORT_SIDE / min(picture.size))
            if scale > 1:
                picture = picture.resize(
                    (round(picture.width * scale), round(picture.height * scale)), Image.BICUBIC
                )
            picture = picture.filter(ImageFilter.GaussianBlur(BLUR_SIGMA))
            path = Path(tmp.name) / f"{i:05d}.pgm"  # uncompressed: PNG costs 5 ms a frame
            picture.save(path)
            listed.append(str(path))
            sizes.append(picture.width * picture.height)
        if not listed:
            tmp.cleanup()
            return PendingText(None, None, [], 0.0)
        (Path(tmp.name) / "list.txt").write_text("\n".join(listed) + "\n")
        # one thread: tesseract's OpenMP threads cost more than they give on small pictures
        proc = subprocess.Popen(
            [self.binary, str(Path(tmp.name) / "list.txt"), "stdout", "--psm", "3", "tsv"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
        return PendingText(proc, tmp, sizes, self.timeout_s * len(listed))


class PendingText:
    """A tesseract run under way; `result` waits for it (with a deadline) and parses it."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes] | None,
        tmp: tempfile.TemporaryDirectory[str] | None,
        sizes: list[int],
        timeout_s: float,
    ) -> None:
        self._proc, self._tmp, self._sizes, self._timeout_s = proc, tmp, sizes, timeout_s

    def result(self) -> list[ScreenText]:
        if self._proc is None:
            return []
        try:
            out, err = self._proc.communicate(timeout=self._timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            raise RuntimeError(f"tesseract took over {self._timeout_s:g} s") from None
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
        if self._proc.returncode != 0:
            raise RuntimeError(f"tesseract failed: {err.decode(errors='replace')[-200:]}")
        words: list[list[str]] = [[] for _ in self._sizes]
        areas = [0] * len(self._sizes)
        for line in out.decode("utf-8", "replace").splitlines()[1:]:
            cols = line.split("\t")
            if len(cols) < 12 or not cols[11].strip() or float(cols[10]) < MIN_CONFIDENCE:
                continue
            page = int(cols[1]) - 1
            words[page].append(cols[11].strip())
            areas[page] += int(cols[8]) * int(cols[9])
        return [
            ScreenText(" ".join(w), a / size)
            for w, a, size in zip(words, areas, self._sizes, strict=True)
        ]
