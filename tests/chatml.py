"""Qwen2 ChatML rendering of a sample row, with the loss mask, for the golden files that pin
what each task's stored turns mean (`tests/golden/chatml/`). No export uses it: each format
has its own module in pipeline/core/formats/. Frames are placeholders
(`<|vision_start|>frames a-b<|vision_end|>`) that a trainer swaps for its visual tokens. Targets:
  - an assistant answer:    header (not learned) + text + `<|im_end|>` (learned)
  - silence:                `<|im_end|>` alone (learned): nothing said over those frames
  - noise:                  `<|im_start|><|im_end|>` (learned): an empty turn, no answer
  - stop:                   the interrupted answer stays open; after the user's interrupt the
                            learned target is `<|im_end|>` at once
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.core.templates import NOISE_TARGET

SYSTEM_PROMPT = "You are a helpful assistant."


@dataclass(frozen=True)
class Segment:
    role: str
    text: str
    learn: bool


def _frames(turn: dict[str, Any]) -> str:
    return f"<|vision_start|>frames {turn['frame_start']}-{turn['frame_end']}<|vision_end|>"


def render_chatml(row: dict[str, Any]) -> list[Segment]:
    segs = [Segment("system", f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n", False)]
    turns = row["turns"]
    for i, t in enumerate(turns):
        role, kind, text, target = t["role"], t["kind"], t["text"], t["target_override"]
        if kind == "frames":
            segs.append(Segment("frames", _frames(t), False))
        elif role == "user":
            segs.append(Segment("user", f"<|im_start|>user\n{text}<|im_end|>\n", False))
        elif kind == "stop":
            segs += [Segment("assistant", target, True), Segment("assistant", "\n", False)]
        elif target == NOISE_TARGET:
            segs += [Segment("assistant", NOISE_TARGET, True), Segment("assistant", "\n", False)]
        elif target is not None:
            segs.append(Segment("assistant", target, True))
        elif any(later["kind"] == "stop" for later in turns[i + 1 :]):
            segs += [
                Segment("assistant", "<|im_start|>assistant\n", False),
                Segment("assistant", text, True),
            ]
        else:
            segs += [
                Segment("assistant", "<|im_start|>assistant\n", False),
                Segment("assistant", f"{text}<|im_end|>", True),
                Segment("assistant", "\n", False),
            ]
    return segs


def layout(segments: list[Segment]) -> str:
    """One line per segment: role, learn flag, the text as a Python literal (golden files)."""
    return "\n".join(f"{s.role}\t{'learn' if s.learn else '-'}\t{s.text!r}" for s in segments)
