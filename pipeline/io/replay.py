"""Existing instruction sets (LLaVA / LongVA JSON or JSONL) read as the replay component.

Records pass through unchanged but for their media paths; their shape is checked, so a
broken file fails before a mixture is written rather than inside a trainer. A relative media
path is resolved against the replay root (default: the replay file's folder) and written
absolute: a trainer joins a relative one to its own media folder, and LLaVA's loader, finding
nothing there, silently trains on the next record instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.core.recipes import RecipeError

ROLES = frozenset({"human", "gpt", "system"})  # LLaVA/LongVA's `from` values


def _check(rec: Any, where: str) -> dict[str, Any]:
    if not isinstance(rec, dict):
        raise RecipeError(f"{where}: a replay record must be an object")
    conv = rec.get("conversations")
    if (
        not isinstance(conv, list)
        or not conv
        or not all(isinstance(t, dict) and "from" in t and "value" in t for t in conv)
    ):
        raise RecipeError(
            f"{where}: needs 'conversations': a list of {{from, value}} turns (LLaVA/LongVA format)"
        )
    for k, t in enumerate(conv):
        if t["from"] not in ROLES or not isinstance(t["value"], str):
            raise RecipeError(
                f"{where} turn {k + 1}: `from` must be one of {sorted(ROLES)} "
                f"and `value` a string, got from={t['from']!r}, value of type "
                f"{type(t['value']).__name__}"
            )
    for key in ("video", "image"):
        if key in rec and not isinstance(rec[key], str):
            raise RecipeError(f"{where}: `{key}` must be a path string")
    return rec


def read_replay(path: str) -> list[dict[str, Any]]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read replay file {path} (UTF-8 JSON or JSONL): {exc}") from exc
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecipeError(f"{path} is not a valid JSON list: {exc}") from exc
        return [_check(r, f"{path} record {i + 1}") for i, r in enumerate(records)]
    out = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecipeError(
                f"{path} line {i + 1}: not JSON ({exc.msg} at column {exc.colno})"
            ) from exc
        out.append(_check(rec, f"{path} line {i + 1}"))
    return out


def resolve_media(
    records: list[dict[str, Any]], root: Path | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """(the records with each `video` and `image` path absolute, the paths that are no
    file). Relative paths start at `root`; without one they count as missing. URLs are left
    as they are."""
    missing: list[str] = []
    out = []
    for rec in records:
        rec = dict(rec)
        for key in ("video", "image"):
            value = rec.get(key)
            if not value or "://" in value:
                continue
            if Path(value).is_absolute():
                path = Path(value)
            elif root is not None:
                path = root / value
            else:
                path = None
            if path is not None and path.is_file():
                rec[key] = str(path.resolve())
            elif value not in missing:
                missing.append(value)
        out.append(rec)
    return out, missing
