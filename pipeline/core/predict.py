"""What a model is shown at each moment of an eval prompt (no I/O, no model): the streaming
step times on the build's frame grid, the frames and dialogue seen so far, the chat messages
an OpenAI-compatible server gets, and which samples a predictions file already holds.

Times are in the prompt's own reference (`time_reference`: seconds from the window's start,
or from the video's start), as the predictions are written."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pipeline.core.captions import data_url

STREAM_SYSTEM = (
    "You are watching a live video stream: frames arrive in order and the user may speak at "
    "any moment. Reply only when you should speak now (to answer the user, to describe a new "
    "scene you were asked to narrate, or to alert the user when what they asked for "
    "happens); otherwise reply with nothing."
)
CHAT_SYSTEM = "You are a helpful assistant."


@dataclass(frozen=True)
class Shown:
    """One frame as the model gets it: its time (prompt seconds) and its JPEG."""

    time: float
    jpeg: bytes


def origin_s(prompt: dict[str, Any]) -> float:
    """Where the prompt's times count from, on the video's timeline (seconds)."""
    return prompt["window"][0] if prompt.get("time_reference", "clip") == "clip" else 0.0


def stream_steps(prompt: dict[str, Any], fps: Fraction) -> list[float]:
    """The frame-grid times (prompt seconds) inside the sample's window: the build puts a
    frame at every k/fps s of the video, and the window starts on one."""
    start, end = prompt["window"]
    first = math.ceil(Fraction(start).limit_denominator(10**6) * fps - Fraction(1, 10**6))
    steps = []
    k = first
    while (t := float(Fraction(k) / fps)) < end - 1e-9:
        steps.append(round(t - origin_s(prompt), 3))
        k += 1
    return steps


def grid_fps(prompt: dict[str, Any], default: Fraction = Fraction(2)) -> Fraction:
    num, den = prompt.get("frame_fps_num"), prompt.get("frame_fps_den")
    return Fraction(num, den) if num and den else default


@dataclass(frozen=True)
class Said:
    """A line of the dialogue so far: who, when (prompt seconds), what."""

    role: str
    time: float
    text: str


def dialogue_until(prompt: dict[str, Any], t: float, replies: Sequence[Said]) -> list[Said]:
    """User utterances up to `t` and the model's own earlier replies, in time order (a user
    utterance before a reply at the same time)."""
    users = [
        Said("user", float(u["time"]), u["content"])
        for u in prompt.get("stream", [])
        if float(u["time"]) <= t + 1e-9
    ]
    return sorted([*users, *replies], key=lambda s: (s.time, s.role != "user"))


def stream_messages(
    frames: Sequence[Shown], dialogue: Sequence[Said], t: float, max_frames: int
) -> list[dict[str, Any]]:
    """One streaming step for an OpenAI-compatible server: the system instruction, then user
    turns holding the frames seen so far (the last `max_frames`) and what the user said, and
    the model's earlier replies as assistant turns, each at its time; the last user turn
    says what time it is now."""
    shown = [f for f in frames if f.time <= t + 1e-9][-max_frames:]
    events: list[tuple[float, int, Any]] = [(f.time, 0, f) for f in shown]
    events += [(s.time, 1, s) for s in dialogue]
    messages: list[dict[str, Any]] = [{"role": "system", "content": STREAM_SYSTEM}]
    user: list[dict[str, Any]] = []
    for _, _, item in sorted(events, key=lambda e: (e[0], e[1])):
        if isinstance(item, Shown):
            user.append({"type": "image_url", "image_url": {"url": data_url(item.jpeg)}})
        elif item.role == "user":
            user.append({"type": "text", "text": f"Time={item.time:g}s {item.text}"})
        else:
            if user:
                messages.append({"role": "user", "content": user})
                user = []
            messages.append({"role": "assistant", "content": item.text})
    user.append({"type": "text", "text": f"Time={t:g}s"})
    messages.append({"role": "user", "content": user})
    return messages


def chat_messages(frames: Sequence[Shown], question: str) -> list[dict[str, Any]]:
    """A grounding question after the window's frames."""
    content = [{"type": "image_url", "image_url": {"url": data_url(f.jpeg)}} for f in frames]
    content.append({"type": "text", "text": question})
    return [{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": content}]


def finished(done_text: str) -> set[str]:
    """Sample ids a `.done` file lists (one JSON string a line; a torn last line is not)."""
    out = set()
    for line in done_text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, str):
            out.add(value)
    return out


def kept_lines(predictions_text: str, done: set[str]) -> list[str]:
    """The prediction lines of finished samples: a killed run's half-written sample (lines
    written, its id not yet in `.done`) and a torn last line are dropped, then redone."""
    kept = []
    for line in predictions_text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("sample_id") in done:
            kept.append(line)
    return kept
