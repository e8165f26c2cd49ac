"""Existing instruction sets (LLaVA / LongVA JSON or JSONL) read as the replay component.

Records pass through unchanged; only their shape is checked, so a broken file fails before a
mixture is written rather than inside a trainer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.core.recipes import RecipeError


def _check(rec: Any, where: str) -> dict[str, Any]:
    if not isinstance(rec, dict):
        raise RecipeError(f"{where}: a replay record must be an object")
    conv = rec.get("conversations")
    if not isinstance(conv, list) or not conv or not all(
            isinstance(t, dict) and "from" in t and "value" in t for t in conv):
        raise RecipeError(f"{where}: needs 'conversations': a list of {{from, value}} turns "
                          "(LLaVA/LongVA format)")
    return rec


def read_replay(path: str) -> list[dict[str, Any]]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(f"cannot read replay file {path}: {exc}") from exc
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            records = json.loads(text)
            return [_check(r, f"{path} record {i}") for i, r in enumerate(records)]
        return [_check(json.loads(line), f"{path} line {i + 1}")
                for i, line in enumerate(text.splitlines()) if line.strip()]
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{path} is neither a JSON list nor JSON lines: {exc}") from exc
