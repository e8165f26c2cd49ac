"""Curation rules as data: one object per signal, which reads its value from a row and its
threshold from the policy and returns its Decision (reason, value, threshold), or None to
keep the item; the way datatrove's filters return `(False, reason)`.

Each rule has a scope, which says what a decision removes: `video` all of it, `speech` all
its sentences (and silence, which would be learned over the speech), `sentence` and `clip`
one of them, `task` the tasks the rule's policy list names (`poisons`). A signal that was not
measured (null) never removes anything; a threshold set to null turns its rule off.
`RULES` is the table judge() runs, in order: in each scope the first decision wins. Adding a
rule is one entry here and its keys in the policy (curation.Policy, SECTIONS)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.core.signals import picture_change_bits

SCOPES = ("video", "speech", "sentence", "clip", "task")


@dataclass(frozen=True)
class Decision:
    """A rule's finding: remove the item, because `reason`; `detail` names what the reason
    refers to (the keeper of a duplicate)."""

    reason: str
    value: float | None = None
    threshold: float | None = None
    detail: str | None = None


def below(value: Any, threshold: Any) -> bool:
    return threshold is not None and value is not None and value < threshold


def above(value: Any, threshold: Any) -> bool:
    return threshold is not None and value is not None and value > threshold


def at_least(value: Any, threshold: Any) -> bool:
    return threshold is not None and value is not None and value >= threshold


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Threshold:
    """Remove where `signal` (a row field) crosses the policy's `threshold` field."""

    reason: str
    scope: str
    signal: str
    crosses: Callable[[Any, Any], bool]
    threshold: str
    poisons: str | None = None  # task scope: the policy field listing the tasks removed

    def decide(self, row: dict[str, Any], policy: Any) -> Decision | None:
        value, limit = row.get(self.signal), getattr(policy, self.threshold)
        if not self.crosses(value, limit):
            return None
        return Decision(self.reason, _number(value), _number(limit))


@dataclass(frozen=True)
class Switch:
    """Remove where `signal` is true and the policy's `switch` field is on."""

    reason: str
    scope: str
    signal: str
    switch: str
    poisons: str | None = None

    def decide(self, row: dict[str, Any], policy: Any) -> Decision | None:
        if getattr(policy, self.switch) and row.get(self.signal):
            return Decision(self.reason)
        return None


@dataclass(frozen=True)
class Duplicate:
    """A re-upload of another video (the build's near-duplicate search names its keeper)."""

    reason: str = "duplicate_of"
    scope: str = "video"
    poisons: str | None = None

    def decide(self, row: dict[str, Any], policy: Any) -> Decision | None:
        keeper = row.get("duplicate_of")
        return Decision(self.reason, detail=keeper) if keeper is not None else None


@dataclass(frozen=True)
class Language:
    """Speech in a language the policy does not take, where the identifier is sure enough:
    the language heard where a multilingual ASR measured it, else the transcript text's."""

    scope: str = "speech"
    poisons: str | None = None

    def decide(self, row: dict[str, Any], policy: Any) -> Decision | None:
        source = "spoken" if row.get("spoken_language") is not None else "text"
        lang, score = row.get(f"{source}_language"), row.get(f"{source}_language_score")
        if (
            policy.languages
            and lang is not None
            and lang not in policy.languages
            and (score or 0) >= policy.min_language_score
        ):
            return Decision(f"language_{lang}", _number(score), _number(policy.min_language_score))
        return None


@dataclass(frozen=True)
class StillPicture:
    """A picture that does not change across the video: no motion in its clips, and its
    keyframes all alike (a slideshow is still clip by clip, but its slides differ)."""

    reason: str = "still_picture"
    scope: str = "task"
    poisons: str | None = "still_poisons"

    def decide(self, row: dict[str, Any], policy: Any) -> Decision | None:
        motion = row.get("motion_mean")
        if not below(motion, policy.still_max_motion) or above(
            picture_change_bits(row.get("frame_hashes")), policy.still_max_change_bits
        ):
            return None
        return Decision(self.reason, _number(motion), _number(policy.still_max_motion))


RULES = (
    Duplicate(),
    Threshold("low_resolution", "video", "height", below, "min_height"),
    Language(),
    Threshold("unintelligible_speech", "speech", "word_score_mean", below, "min_word_score_mean"),
    Switch("hallucination", "sentence", "hallucination", "drop_hallucinations"),
    Threshold("repetition", "sentence", "longest_repeat", above, "max_longest_repeat"),
    Threshold("repetition", "sentence", "compression_ratio", above, "max_compression_ratio"),
    Threshold("low_word_score", "sentence", "word_score_min", below, "min_sentence_word_score"),
    Threshold("low_clip_score", "clip", "clip_score", below, "min_clip_score"),
    Threshold(
        "burned_in_subtitles",
        "task",
        "subtitle_overlap_max",  # the clip that shows most of what is said
        at_least,
        "subtitles_min_overlap",
        "subtitles_poisons",
    ),
    StillPicture(),
    Threshold(
        "talking_head",
        "task",
        "face_area_mean",
        at_least,
        "talking_head_min_face_area",
        "talking_head_poisons",
    ),
)


def rules_for(scope: str) -> tuple[Any, ...]:
    return tuple(r for r in RULES if r.scope == scope)


def first_decision(scope: str, row: dict[str, Any], policy: Any) -> Decision | None:
    """The first rule of `scope` that removes `row`, or None."""
    for rule in rules_for(scope):
        decision = rule.decide(row, policy)
        if decision is not None:
            return decision
    return None
