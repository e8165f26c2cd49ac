"""Versioned prompt templates. A prompt's id and hash go into provenance and the caption cache,
so changing a word means a new id (or at least a new hash), never a silent change."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Prompt:
    id: str
    system: str
    user: str  # may use {n_frames}

    @property
    def hash(self) -> str:
        doc = f"{self.id}\n{self.system}\n{self.user}"
        return hashlib.sha256(doc.encode("utf-8")).hexdigest()[:12]

    def render(self, n_frames: int) -> str:
        return self.user.format(n_frames=n_frames)


_PROMPTS = (
    Prompt(
        id="clip-caption-v1",
        system="You write short, factual descriptions of video clips for a training dataset.",
        user=(
            "The {n_frames} images are frames from one continuous shot of a video, in time "
            "order. Describe in one or two plain sentences what is visible and what happens. "
            "Do not mention frames, images, times or durations."
        ),
    ),
    Prompt(
        id="clip-caption-brief-v1",
        system="You write short, factual descriptions of video clips for a training dataset.",
        user=(
            "These {n_frames} frames come from one shot of a video. In one sentence of at most "
            "twenty words, say what is shown. No times, no numbers of frames."
        ),
    ),
)

PROMPTS: dict[str, Prompt] = {p.id: p for p in _PROMPTS}


def get_prompt(prompt_id: str) -> Prompt:
    try:
        return PROMPTS[prompt_id]
    except KeyError:
        raise ValueError(f"unknown prompt id {prompt_id!r}; known: {sorted(PROMPTS)}") from None
