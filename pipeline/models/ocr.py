"""On-screen text with tesseract (Debian's tesseract-ocr, English data), which runs offline.

Each picture is scaled so its short side is at least 720 px (tesseract reads text of about 20
px or more), then read with sparse-text segmentation (`--psm 11`); words below a confidence
of 60 are dropped. Where the binary is missing, `available` is False and the signal is null.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

MIN_CONFIDENCE = 60.0
MIN_SHORT_SIDE = 720


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
        if self.binary is None:
            return None
        import io

        from PIL import Image

        picture = Image.fromarray(frame).convert("L")
        scale = max(1.0, MIN_SHORT_SIDE / min(picture.size))
        if scale > 1:
            picture = picture.resize((round(picture.width * scale),
                                      round(picture.height * scale)), Image.BICUBIC)
        png = io.BytesIO()
        picture.save(png, format="PNG")
        proc = subprocess.run([self.binary, "stdin", "stdout", "--psm", "11", "tsv"],
                              input=png.getvalue(), capture_output=True,
                              timeout=self.timeout_s, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"tesseract failed: {proc.stderr.decode(errors='replace')[-200:]}")
        words, area = [], 0
        for line in proc.stdout.decode("utf-8", "replace").splitlines()[1:]:
            cols = line.split("\t")
            if len(cols) < 12 or not cols[11].strip():
                continue
            if float(cols[10]) < MIN_CONFIDENCE:
                continue
            words.append(cols[11].strip())
            area += int(cols[8]) * int(cols[9])
        return ScreenText(" ".join(words), area / (picture.width * picture.height))
