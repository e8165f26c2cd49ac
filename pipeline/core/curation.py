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

from pipeline.core.rules import Decision, above, first_decision, rules_for
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
    detail: str | None = None  # what the reason refers to: a duplicate's keeper


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


def judge(
    video: dict[str, Any],
    sentences: Sequence[dict[str, Any]],
    clips: Sequence[dict[str, Any]],
    policy: Policy,
    duplicate_of: str | None = None,
) -> Verdict:
    """One video's verdict from its table rows (videos, sentences, clips), by the rules of
    core/rules.py: in each scope the first rule that decides removes the item."""
    vid = video["video_id"]
    out: list[Rejection] = []

    def reject(scope: str, item: str, d: Decision) -> None:
        out.append(Rejection(vid, scope, item, d.reason, d.value, d.threshold, d.detail))

    overlaps = [c.get("subtitle_overlap") for c in clips]
    facts = {
        **video,
        "duplicate_of": duplicate_of,
        "subtitle_overlap_max": max((o for o in overlaps if o is not None), default=None),
    }
    gone = first_decision("video", facts, policy)
    if gone is not None:
        reject("video", vid, gone)
        return Verdict(False, rejections=tuple(out))

    blocked: dict[str, str] = {}
    drop_sentences: set[str] = set()
    unusable = first_decision("speech", facts, policy)
    if unusable is not None:  # the speech is unusable; silence would be learned over it
        reject("speech", vid, unusable)
        drop_sentences = {s["sentence_id"] for s in sentences}
        blocked["silence"] = unusable.reason
    for s in sentences:
        if s["sentence_id"] in drop_sentences:
            continue
        why = first_decision("sentence", s, policy)
        if why is not None:
            drop_sentences.add(s["sentence_id"])
            reject("sentence", s["sentence_id"], why)
    drop_clips = set()
    for c in clips:
        why = first_decision("clip", c, policy)
        if why is not None:
            drop_clips.add(c["clip_id"])
            reject("clip", c["clip_id"], why)
    for rule in rules_for("task"):
        hit = rule.decide(facts, policy)
        if hit is None:
            continue
        for task in getattr(policy, rule.poisons):
            if task not in blocked:
                blocked[task] = hit.reason
                reject("task", task, hit)
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
    if above(picture_change_bits(hashes), policy.still_max_change_bits):
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
        reason = r["reason"]
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
