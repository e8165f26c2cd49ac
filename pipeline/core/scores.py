"""Clip scores from CLIP: how well a caption matches its keyframes, and how much the picture
changed from the previous clip. The model is passed in; nothing is loaded or read here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from pipeline.core.captions import DRY_RUN_CAPTION
from pipeline.records import Clip


class TextEmbedder(Protocol):
    """What scoring needs of a CLIP model: its name, whether weights loaded, its text side."""

    name: str | None

    @property
    def loaded(self) -> bool: ...

    def embed_texts(self, texts: list[str]) -> np.ndarray: ...


NO_CLIP_MODEL = "none"


def _mean_unit(emb: np.ndarray) -> np.ndarray:
    mean = emb.mean(axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


def score_clips(clips: Sequence[Clip], embedder: TextEmbedder) -> tuple[Clip, ...]:
    """Scores need the frames' embeddings (from SampleFrames) and the same model's text side;
    without weights, or for a dry-run caption, the score stays null."""
    if not embedder.loaded:
        return tuple(replace(c, clip_model=NO_CLIP_MODEL) for c in clips)
    scorable = [
        i
        for i, c in enumerate(clips)
        if c.keyframe_embeddings is not None and c.caption and c.caption != DRY_RUN_CAPTION
    ]
    texts = embedder.embed_texts([clips[i].caption for i in scorable]) if scorable else None
    scores = {
        i: float((clips[i].keyframe_embeddings @ texts[k]).mean()) for k, i in enumerate(scorable)
    }
    out: list[Clip] = []
    previous: np.ndarray | None = None
    for i, clip in enumerate(clips):
        change = None
        if clip.keyframe_embeddings is not None:
            mean = _mean_unit(clip.keyframe_embeddings)
            if previous is not None:
                change = float(1.0 - mean @ previous)
            previous = mean
        out.append(
            replace(
                clip, clip_score=scores.get(i), embedding_change=change, clip_model=embedder.name
            )
        )
    return tuple(out)
