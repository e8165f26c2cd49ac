"""Ours: every turn with its time, frames as spans, structural targets named."""

from __future__ import annotations

from typing import Any

from pipeline.core.exporters import Context, about, said, seconds, target_kind
from pipeline.core.formats.base import Format, no_replay, one_json_file


def record(row: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Every turn with its time; frames as [time, end_time]; structural targets named."""
    conv = []
    for t in row["turns"]:
        at = seconds(t["start_ms"], row, ctx)
        end = seconds(t["end_ms"], row, ctx)
        if t["kind"] == "frames":
            conv.append({"role": "stream", "time": at, "end_time": end})
            continue
        conv.append(
            {
                "role": t["role"],
                "content": said(row, t, ctx),
                "time": at,
                "end_time": end,
                "learn": t["learn"],
                "target": target_kind(t),
            }
        )
    return {**about(row, ctx), "video": ctx.media, "conversation": conv}


FORMAT = Format(
    "streaming",
    "any (ours: every turn timed)",
    record,
    no_replay,
    one_json_file("streaming"),
    windowed=True,
    cannot="replay rows (no times)",
)
