"""A tiny open_clip config registered in the test session: the real open_clip code path, with
random weights (pretrained tags cannot be downloaded here)."""

from __future__ import annotations

import json
from pathlib import Path

NAME = "tiny-test-clip"

CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def write_tiny_clip_config(folder: Path) -> Path:
    """open_clip names a registered config after its file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{NAME}.json"
    path.write_text(json.dumps(CONFIG))
    return path
