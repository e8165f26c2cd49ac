"""The curation policy: which videos, sentences, clips and tasks a video keeps, from the
signals annotate stored, with every removal a record that says why (reasons as data).

A rule removes what its signal spoils and no more: foreign or unintelligible speech removes
the video's sentences (and silence, which would be learned over speech), burned-in subtitles
poison the tasks whose answer is the speech, a still picture the tasks grounded in the
picture (a picture that never changes across the video: clips without motion whose
keyframes all look alike; a slideshow or a photo montage is still clip by clip, but "when"
has an answer there; the same test on one sample's window removes that sample, see
`still_window`), a duplicate the whole re-upload. A signal that was not measured
(null: older OUT folders, no OCR) never removes anything. A sample's quality flag (tasks.py)
is a removal too: a rejections row of scope `sample`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.signals import picture_change_bits
from pipeline.core.task_facts import tasks_where
from pipeline.errors import UsageError

SPEECH_ANSWER_TASKS = tasks_where("speech_text")  # what burned-in subtitles give away
PICTURE_TASKS = tasks_where("picture")  # what a still picture leaves without an answer


class PolicyError(UsageError):
    """A curation policy file that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Policy:
    """Thresholds; None switches a rule off. Defaults: workflows/curation/default.yaml."""

    name: str = "none"
    languages: tuple[str, ...] | None = None  # speech text must be in one of these ...
    min_language_score: float = 0.9  # ... when the identifier is at least this sure
    min_word_score_mean: float | None = None  # unintelligible (or foreign, under .en ASR)
    min_height: int | None = None
    still_max_motion: float | None = None
    still_max_change_bits: int | None = None  # ... and its keyframes all this alike
    still_poisons: tuple[str, ...] = PICTURE_TASKS
    subtitles_min_overlap: float | None = None
    subtitles_poisons: tuple[str, ...] = SPEECH_ANSWER_TASKS
    talking_head_min_face_area: float | None = None
    talking_head_poisons: tuple[str, ...] = ("tsg_caption", "narration")
    duplicates: bool = False
    duplicate_max_frame_bits: int = 10
    duplicate_min_frame_share: float = 0.8
    duplicate_max_text_bits: int = 12
    duplicate_max_duration_diff: float = 0.05
    drop_hallucinations: bool = False
    max_longest_repeat: int | None = None
    max_compression_ratio: float | None = None
    min_sentence_word_score: float | None = None
    min_clip_score: float | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Policy:
        """From the YAML's sections (video, sentence, clip), checked against SCHEMA: a key
        in the wrong section, a value of the wrong type or out of range, and a task name
        that does not exist are errors that name the key."""
        unknown = sorted(set(doc) - {"name", *SECTIONS})
        if unknown:
            raise PolicyError(f"unknown top-level keys {unknown}; a policy has name, {SECTIONS}")
        flat: dict[str, Any] = {"name": str(doc.get("name", "custom"))}
        for section in SECTIONS:
            body = doc.get(section) or {}
            if not isinstance(body, dict):
                raise PolicyError(f"{section}: expected a mapping of rule keys to values")
            for key, value in body.items():
                where = next((s for s, keys in SECTIONS.items() if key in keys), None)
                if where is None:
                    raise PolicyError(f"{section}.{key}: unknown key; known: {SECTIONS[section]}")
                if where != section:
                    raise PolicyError(f"{section}.{key}: belongs in the {where} section")
                flat[key] = _checked(f"{section}.{key}", key, value)
        if len(flat) == 1:
            raise PolicyError(
                "no rule is set, which would turn curation off: pass --policy none for that"
            )
        return cls(**flat)


# section -> its keys, in the order of workflows/curation/default.yaml
SECTIONS: dict[str, tuple[str, ...]] = {
    "video": (
        "languages", "min_language_score", "min_word_score_mean", "min_height",
        "still_max_motion", "still_max_change_bits", "still_poisons", "subtitles_min_overlap",
        "subtitles_poisons", "talking_head_min_face_area", "talking_head_poisons",
        "duplicates", "duplicate_max_frame_bits", "duplicate_min_frame_share",
        "duplicate_max_text_bits", "duplicate_max_duration_diff",
    ),
    "sentence": (
        "drop_hallucinations", "max_longest_repeat", "max_compression_ratio",
        "min_sentence_word_score",
    ),
    "clip": ("min_clip_score",),
}  # fmt: skip
SHARES = frozenset(
    {
        "min_language_score", "min_word_score_mean", "still_max_motion",
        "subtitles_min_overlap", "talking_head_min_face_area", "duplicate_min_frame_share",
        "duplicate_max_duration_diff", "min_sentence_word_score", "min_clip_score",
    }
)  # fmt: skip
BITS = frozenset({"still_max_change_bits", "duplicate_max_frame_bits", "duplicate_max_text_bits"})


def _checked(where: str, key: str, value: Any) -> Any:
    """The value in the form Policy holds, or PolicyError naming the key and what it needs.
    Which keys may be null, are switches or are lists comes from Policy's field types."""
    from pipeline.core.tasks import TASKS

    declared = str(Policy.__dataclass_fields__[key].type)

    def fail(need: str) -> PolicyError:
        return PolicyError(f"{where}: {need}, not {value!r}")

    if value is None:
        if "None" in declared:
            return None
        raise fail("needs a value (only thresholds can be null: rule off)")
    if declared == "bool":
        if not isinstance(value, bool):
            raise fail("must be true or false")
        return value
    if declared.startswith("tuple[str"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail("must be a list of names")
        if key.endswith("_poisons") and (bad := sorted(set(value) - set(TASKS))):
            raise PolicyError(f"{where}: unknown tasks {bad}; tasks: {list(TASKS)}")
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail("must be a number")
    if key in SHARES and not 0 <= value <= 1:
        raise fail("must be a share between 0 and 1")
    if key in BITS and not (isinstance(value, int) and 0 <= value <= 64):
        raise fail("must be a whole number of bits between 0 and 64")
    if key in ("min_height", "max_longest_repeat") and not (isinstance(value, int) and value >= 1):
        raise fail("must be a whole number of at least 1")
    if key == "max_compression_ratio" and value <= 0:
        raise fail("must be positive")
    return value


@dataclass(frozen=True)
class Rejection:
    video_id: str
    scope: str  # video, speech, sentence, clip, task, or sample (a quality flag)
    item: str  # the video, sentence or clip id, or the task's name
    reason: str
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Verdict:
    """What a video keeps: sentence and clip ids to drop, tasks it must not make (task ->
    reason), spans that are speech though no sentence is kept there, and every rejection."""

    keep: bool
    drop_sentences: frozenset[str] = frozenset()
    drop_clips: frozenset[str] = frozenset()
    blocked_tasks: dict[str, str] = field(default_factory=dict)
    speech_spans: tuple[tuple[int, int], ...] = ()
    rejections: tuple[Rejection, ...] = ()


def _below(value: Any, threshold: Any) -> bool:
    return threshold is not None and value is not None and value < threshold


def _above(value: Any, threshold: Any) -> bool:
    return threshold is not None and value is not None and value > threshold


def _at_least(value: Any, threshold: Any) -> bool:
    return threshold is not None and value is not None and value >= threshold


def judge(
    video: dict[str, Any],
    sentences: Sequence[dict[str, Any]],
    clips: Sequence[dict[str, Any]],
    policy: Policy,
    duplicate_of: str | None = None,
) -> Verdict:
    """One video's verdict from its table rows (videos, sentences, clips)."""
    vid = video["video_id"]
    out: list[Rejection] = []

    def reject(scope: str, item: str, reason: str, value: Any = None, limit: Any = None):
        out.append(
            Rejection(
                vid,
                scope,
                item,
                reason,
                float(value) if isinstance(value, int | float) else None,
                float(limit) if isinstance(limit, int | float) else None,
            )
        )

    if duplicate_of is not None:
        reject("video", vid, f"duplicate_of:{duplicate_of}")
        return Verdict(False, rejections=tuple(out))
    if _below(video.get("height"), policy.min_height):
        reject("video", vid, "low_resolution", video.get("height"), policy.min_height)
        return Verdict(False, rejections=tuple(out))

    blocked: dict[str, str] = {}
    drop_sentences: set[str] = set()
    # the language heard where a multilingual ASR measured it, else the transcript's text's
    source = "spoken" if video.get("spoken_language") is not None else "text"
    lang, lang_score = video.get(f"{source}_language"), video.get(f"{source}_language_score")
    speech_reason = None
    if (
        policy.languages
        and lang is not None
        and lang not in policy.languages
        and (lang_score or 0) >= policy.min_language_score
    ):
        speech_reason = f"language_{lang}"
        reject("speech", vid, speech_reason, lang_score, policy.min_language_score)
    elif _below(video.get("word_score_mean"), policy.min_word_score_mean):
        speech_reason = "unintelligible_speech"
        reject(
            "speech", vid, speech_reason, video.get("word_score_mean"), policy.min_word_score_mean
        )
    if speech_reason:  # the speech is unusable; silence would be learned over it
        drop_sentences = {s["sentence_id"] for s in sentences}
        blocked["silence"] = speech_reason
    for s in sentences:
        if s["sentence_id"] in drop_sentences:
            continue
        why = None
        if policy.drop_hallucinations and s.get("hallucination"):
            why, value, limit = "hallucination", None, None
        elif _above(s.get("longest_repeat"), policy.max_longest_repeat):
            why, value, limit = "repetition", s.get("longest_repeat"), policy.max_longest_repeat
        elif _above(s.get("compression_ratio"), policy.max_compression_ratio):
            why, value, limit = (
                "repetition",
                s.get("compression_ratio"),
                policy.max_compression_ratio,
            )
        elif _below(s.get("word_score_min"), policy.min_sentence_word_score):
            why, value, limit = (
                "low_word_score",
                s.get("word_score_min"),
                policy.min_sentence_word_score,
            )
        if why:
            drop_sentences.add(s["sentence_id"])
            reject("sentence", s["sentence_id"], why, value, limit)
    drop_clips = {c["clip_id"] for c in clips if _below(c.get("clip_score"), policy.min_clip_score)}
    for c in clips:
        if c["clip_id"] in drop_clips:
            reject(
                "clip", c["clip_id"], "low_clip_score", c.get("clip_score"), policy.min_clip_score
            )

    overlaps = [c.get("subtitle_overlap") for c in clips]
    worst = max((o for o in overlaps if o is not None), default=None)
    task_rules = (
        (
            "burned_in_subtitles",
            _at_least(worst, policy.subtitles_min_overlap),
            worst,
            policy.subtitles_min_overlap,
            policy.subtitles_poisons,
        ),
        (
            "still_picture",
            _below(video.get("motion_mean"), policy.still_max_motion)
            and not _above(
                picture_change_bits(video.get("frame_hashes")), policy.still_max_change_bits
            ),
            video.get("motion_mean"),
            policy.still_max_motion,
            policy.still_poisons,
        ),
        (
            "talking_head",
            _at_least(video.get("face_area_mean"), policy.talking_head_min_face_area),
            video.get("face_area_mean"),
            policy.talking_head_min_face_area,
            policy.talking_head_poisons,
        ),
    )
    for reason, hit, value, limit, tasks in task_rules:
        if hit:
            for task in tasks:
                if task not in blocked:
                    blocked[task] = reason
                    reject("task", task, reason, value, limit)
    spans = tuple(
        (s["start_ms"], s["end_ms"]) for s in sentences if s["sentence_id"] in drop_sentences
    )
    return Verdict(
        True, frozenset(drop_sentences), frozenset(drop_clips), blocked, spans, tuple(out)
    )


def still_window(clips: Sequence[Any], start_ms: int, end_ms: int, policy: Policy) -> float | None:
    """The window's largest clip motion where the picture does not change across it (the
    several clips it overlaps all without motion, their keyframes all alike): then each
    caption in it is the same and "when" has no answer, though the video changes elsewhere
    (one slide held for a minute of a slideshow). A window of one clip has one caption and
    one answer, so it stays. None where it changes, or where a signal was not measured."""
    if policy.still_max_motion is None:
        return None
    inside = [c for c in clips if c.start_ms < end_ms and c.end_ms > start_ms]
    motions = [c.motion for c in inside]
    if len(inside) < 2 or any(m is None or m >= policy.still_max_motion for m in motions):
        return None
    hashes = [c.frame_hash for c in inside]
    if any(h is None for h in hashes):
        return None
    if _above(picture_change_bits(hashes), policy.still_max_change_bits):
        return None
    return max(motions)


PLURAL = {
    "video": "videos",
    "speech": "speech",
    "sentence": "sentences",
    "clip": "clips",
    "task": "tasks",
    "sample": "samples",
}


def funnel(
    videos_in: Sequence[dict[str, Any]],
    videos_out: set[str],
    rejections: Sequence[dict[str, Any]],
    counters: dict[str, int],
    policy: str,
) -> dict[str, Any]:
    """Videos and hours in and out, and what each reason removed (videos, sentences, clips,
    tasks, and the samples those tasks would have made)."""

    def hours(ids: set[str] | None = None) -> float:
        return round(
            sum(v["duration_ms"] for v in videos_in if ids is None or v["video_id"] in ids) / 3.6e6,
            4,
        )

    by_reason: dict[str, dict[str, int]] = {}
    for r in rejections:
        reason = r["reason"].split(":")[0]
        entry = by_reason.setdefault(reason, {})
        key = PLURAL[r["scope"]]
        entry[key] = entry.get(key, 0) + 1
    prefix = "rejected_samples_"
    for key, n in counters.items():
        if key.startswith(prefix):
            entry = by_reason.setdefault(key[len(prefix) :], {})
            entry["samples"] = entry.get("samples", 0) + n  # (a task not made: no rows)
    return {
        "policy": policy,
        "videos_in": len(videos_in),
        "hours_in": hours(),
        "videos_out": len(videos_out),
        "hours_out": hours(videos_out),
        "removed": dict(sorted(by_reason.items())),
    }
