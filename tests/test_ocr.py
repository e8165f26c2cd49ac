"""On-screen text with Debian's tesseract: text drawn on a frame is read, single-pixel noise
reads as nothing, and a tesseract that fails or hangs is an error with a reason, not a wait."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.models.ocr import Ocr
from pipeline.synthetic import FONT


def _subtitle_frame(text: str) -> np.ndarray:
    """A 320x240 grey picture with a 16 px white line on a black box near the bottom, the way
    the synthetic subtitles are burned in."""
    picture = Image.new("RGB", (320, 240), (90, 120, 90))
    draw = ImageDraw.Draw(picture)
    font = ImageFont.truetype(FONT, 16)
    left, _, right, bottom = draw.textbbox((0, 0), text, font=font)
    x, y = (320 - (right - left)) // 2, 200
    draw.rectangle((x - 2, y - 2, x + right - left + 2, y + bottom + 2), fill=(0, 0, 0))
    draw.text((x, y), text, font=font, fill=(255, 255, 255))
    return np.asarray(picture)


def test_reads_burned_in_text_and_nothing_from_noise() -> None:
    ocr = Ocr()
    assert ocr.available, "tesseract is installed by make setup"
    noise = np.random.default_rng(0).integers(0, 2, (240, 320, 1), dtype=np.uint8) * 255
    texts = ocr.read_many([_subtitle_frame("First chop the onions"), np.repeat(noise, 3, axis=2)])
    assert texts is not None
    words, nothing = texts
    assert "chop the onions" in words.text
    assert 0 < words.area < 0.2
    assert nothing.text == "" and nothing.area == 0


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "tesseract"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_a_failing_tesseract_is_an_error_with_its_message(tmp_path: Path) -> None:
    ocr = Ocr(binary=_script(tmp_path, "echo 'Error: no language data' >&2; exit 1"))
    with pytest.raises(RuntimeError, match="no language data"):
        ocr.read_many([_subtitle_frame("hello")])


def test_a_hanging_tesseract_is_stopped_at_its_deadline(tmp_path: Path) -> None:
    ocr = Ocr(binary=_script(tmp_path, "exec sleep 60"), timeout_s=0.2)
    pending = ocr.start([_subtitle_frame("hello")])
    assert pending is not None
    with pytest.raises(RuntimeError, match="took over"):
        pending.result()
    assert pending._proc is not None and pending._proc.returncode is not None


def test_no_tesseract_gives_no_signal() -> None:
    ocr = Ocr(binary="no-such-tesseract-binary")
    assert not ocr.available and ocr.name == "none"
    assert ocr.read_many([_subtitle_frame("hello")]) is None
