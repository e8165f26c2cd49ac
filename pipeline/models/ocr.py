"""On-screen text with tesseract (Debian's tesseract-ocr, English data), which runs offline.

Each picture is scaled so its short side is at least 540 px (tesseract reads text of about 20
px or more), then read with automatic page segmentation (`--psm 3`: sparse-text mode, 11,
spends seconds on busy textures such as a cellular automaton); words below a confidence of 60
are dropped. Where the binary is missing, `available` is False and the signal is null.
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
        """Words on each frame, read by one tesseract process (its start-up and model load
        are most of the cost of a small picture), or None without tesseract."""
        if self.binary is None:
            return None
        if not len(frames):
            return []
        from PIL import Image

        sizes = []
        with tempfile.TemporaryDirectory() as tmp:
            listed = []
            for i, frame in enumerate(frames):
                picture = Image.fromarray(frame).convert("L")
                scale = max(1.0, MIN_SHORT_SIDE / min(picture.size))
                if scale > 1:
                    picture = picture.resize((round(picture.width * scale),
                                              round(picture.height * scale)), Image.BICUBIC)
                path = Path(tmp) / f"{i:05d}.png"
                picture.save(path)
                listed.append(str(path))
                sizes.append(picture.width * picture.height)
            (Path(tmp) / "list.txt").write_text("\n".join(listed) + "\n")
            # one thread: tesseract's OpenMP threads cost more than they give on small pictures
            proc = subprocess.run([self.binary, str(Path(tmp) / "list.txt"), "stdout", "--psm",
                                   "3", "tsv"], capture_output=True,
                                  env={**os.environ, "OMP_THREAD_LIMIT": "1"},
                                  timeout=self.timeout_s * len(frames), check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"tesseract failed: {proc.stderr.decode(errors='replace')[-200:]}")
        words: list[list[str]] = [[] for _ in frames]
        areas = [0] * len(frames)
        for line in proc.stdout.decode("utf-8", "replace").splitlines()[1:]:
            cols = line.split("\t")
            if len(cols) < 12 or not cols[11].strip() or float(cols[10]) < MIN_CONFIDENCE:
                continue
            page = int(cols[1]) - 1
            words[page].append(cols[11].strip())
            areas[page] += int(cols[8]) * int(cols[9])
        return [ScreenText(" ".join(w), a / size) for w, a, size in zip(words, areas, sizes,
                                                                         strict=True)]
