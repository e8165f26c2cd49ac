"""Media probing with ffprobe (pipeline/core/probe.py reads what it prints): the streams, and
where the packets really end, since a container's duration header can lie."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.core.probe import ProbeError, parse_probe, trusted_duration_ms, video_stream
from pipeline.records import Probe


def run_ffprobe(path: str | Path, timeout_s: float = 60.0) -> dict[str, Any]:
    """ffprobe's JSON for a file; unreadable media raises ProbeError with ffprobe's reason."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise ProbeError(f"empty file (0 bytes): {path.name}")
    cmd = [
        "ffprobe",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        str(path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise ProbeError(f"not readable as media ({reason}): {path.name}")
    return json.loads(proc.stdout)


TAIL_S = 30.0  # read packets from this far before the claimed end


def packets_end_ms(path: str | Path, claimed_ms: int, timeout_s: float = 60.0) -> int | None:
    """Where the packets really end, read from a little before the claimed end: ffprobe seeks
    to the keyframe before that point, so a file shorter than its header says is read from
    its real last keyframe and its last packet tells the truth. None when nothing is read."""
    start = max(0.0, claimed_ms / 1000 - TAIL_S)
    cmd = [
        "ffprobe",
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-read_intervals",
        f"{start:.3f}%",
        "-show_entries",
        "packet=pts_time,duration_time",
        "-of",
        "csv=p=0",
        str(path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    ends = []
    for line in proc.stdout.splitlines():
        pts, dur = ([*line.split(","), "", ""])[:2]
        if pts not in ("", "N/A"):
            ends.append(float(pts) + (float(dur) if dur not in ("", "N/A") else 0.0))
    return round(max(ends) * 1000) if ends else None


def probe(path: str | Path) -> Probe:
    """What a file holds, on its picture's timeline: where the video packets end wins over a
    container duration that a longer audio track (or a forged header) sets."""
    raw = run_ffprobe(path)
    info = parse_probe(raw)
    stream = video_stream(raw) or {}
    packets = packets_end_ms(path, info.duration_ms)
    if stream.get("duration") in (None, "N/A") and packets is not None:
        duration = min(info.duration_ms, packets)  # only the container's: the picture ends
    else:
        duration = trusted_duration_ms(info.duration_ms, packets)
    return replace(info, duration_ms=duration) if duration != info.duration_ms else info
