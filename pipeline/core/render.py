"""A plain-text view of a sample's turns, for the demo and for eyeballing (not for training:
chat templates belong to the exporters)."""

from __future__ import annotations

from typing import Any


def describe_sample(row: dict[str, Any]) -> str:
    lines = [
        f"{row['task']} [{row['split']}] {row['video_id']} "
        f"{row['clip_start_ms'] / 1000:.1f}-{row['clip_end_ms'] / 1000:.1f} s"
        + (f"  flags: {', '.join(row['quality_flags'])}" if row["quality_flags"] else "")
    ]
    for t in row["turns"]:
        span = f"{t['start_ms'] / 1000:6.1f}"
        if t["end_ms"] != t["start_ms"]:
            span += f"-{t['end_ms'] / 1000:.1f}"
        if t["kind"] == "frames":
            lines.append(f"  {span:>13} s  <frames {t['frame_start']}..{t['frame_end']}>")
            continue
        said = t["target_override"] if t["target_override"] else t["text"]
        learn = " (learn)" if t["learn"] else ""
        lines.append(f"  {span:>13} s  {t['role']}/{t['kind']}{learn}: {said}")
    return "\n".join(lines)
