"""Scoring a model's answers on the samples' own tasks: plain functions of sample rows and
predictions (no I/O). Times are seconds from the sample's window start (`clip`, as the eval
prompts give them by default) or from the video's start (`video`).

Per task, one headline score (what `eval compare` tabulates) and the details behind it:
  - text -> span (both tsg tasks): recall at IoU 0.5 of the one answer (R@1 IoU>=0.5, the
    headline, as temporal grounding papers report it), mean IoU (mIoU), R@1 at 0.3 and 0.7;
    the reference is the span as the sample's timestamp style writes it, so the reference
    answer scores 1. "grounding" is R@1 IoU>=0.5 over the text -> span samples of both tasks;
  - span -> text, caption <-> speech: SQuAD-normalised F1 (the headline) and exact match,
    ROUGE-L with stemming (rouge-score's `rougeL`, `use_stemmer=True`), our own token F1 and
    exact match over words, and WER where the answer is speech: the mean per sample and the
    WER pooled over all words (jiwer's corpus WER);
  - silence: stayed silent through the stretch; stop: said nothing after the interrupt;
    noise: said nothing after the remark; contrast: answered the real question and not the
    remark (both halves reported); headline the pass rate. A reply that holds only a chat
    template's special tokens (noise's `<|im_start|>` marker, an end token) is silence;
  - rev: response time minus evidence start: median, share within 1 s (headline), early
    false alerts (more than 1 s before the evidence), misses;
  - narration: responses matched one to one with the cuts they narrate, within 2 s, by an
    optimal assignment: coverage (headline), mean timing error, extra responses.
Duration buckets (Video-MME's by default: short < 2 min, medium 4-15 min, long 30-60 min)
score each bucket's samples alone; samples of videos outside every bucket count only overall.
"""

from __future__ import annotations

import math
import re
import statistics
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.core import templates as T
from pipeline.core.task_facts import tasks_where
from pipeline.core.text import word_edits, words

SPEECH_ANSWERS = tasks_where("speech_answer")
TSG_TASKS = tasks_where("time_answer")
REV_TOLERANCE_S = 1.0
NARRATION_TOLERANCE_S = 2.0
ANSWER_WITHIN_S = 3.0
IOU_THRESHOLDS = (0.3, 0.5, 0.7)
TIME_REFERENCES = ("clip", "video")
GROUNDING_HEADLINE = "recall@0.5"


@dataclass(frozen=True)
class Bucket:
    """Videos of duration in [low_s, high_s)."""

    name: str
    low_s: float
    high_s: float


VIDEO_MME_BUCKETS = (
    Bucket("short", 0, 120),
    Bucket("medium", 240, 900),
    Bucket("long", 1800, 3600),
)


def parse_buckets(text: str) -> tuple[Bucket, ...]:
    """ "short:0-120,medium:240-900,long:1800-3600" (seconds) -> buckets."""
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = re.fullmatch(r"([A-Za-z][\w-]*)\s*:\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?|inf)", part)
        if not m or float(m.group(2)) >= float(m.group(3)):
            raise ValueError(
                f"bucket {part!r}: write NAME:LOW-HIGH in seconds, LOW < HIGH (e.g. short:0-120)"
            )
        out.append(Bucket(m.group(1), float(m.group(2)), float(m.group(3))))
    if not out or len({b.name for b in out}) != len(out):
        raise ValueError(f"buckets {text!r}: give at least one, each name once")
    return tuple(out)


def bucket_of(duration_s: float, buckets: Sequence[Bucket]) -> str | None:
    return next((b.name for b in buckets if b.low_s <= duration_s < b.high_s), None)


@dataclass(frozen=True)
class Response:
    """One thing the model said: its text, and for streaming tasks when (seconds)."""

    text: str
    time: float | None = None


# --- timestamps ---------------------------------------------------------------------------

_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2212": "-", "\u2015": "-"})
_CLOCK = r"(?:\d+:)?\d{1,3}:\d{2}(?:\.\d+)?"
_NUMBER = r"\d+(?:\.\d+)?"
_UNIT = r"(?:seconds?|secs?|s)\b"
_TO = r"\s*(?:-|to|until|and)\s*"
_SPANS = (
    ("clock", re.compile(rf"(?<![\d:.])({_CLOCK}){_TO}({_CLOCK})(?!\d|:\d)", re.IGNORECASE)),
    (
        "seconds",
        re.compile(
            rf"(?<![\d:.])({_NUMBER})\s*(?:{_UNIT})?{_TO}({_NUMBER})\s*{_UNIT}", re.IGNORECASE
        ),
    ),
    (
        "relative",
        re.compile(
            rf"(?<![\d:.])({_NUMBER})\s*-\s*({_NUMBER})\s*\(\s*of\s*100\s*\)", re.IGNORECASE
        ),
    ),
)


def _clock(text: str) -> float:
    total = 0.0
    for part in text.split(":"):
        total = total * 60 + float(part)
    return total


def _spans(text: str, window_s: float) -> list[tuple[int, int, tuple[float, float]]]:
    """(start, end, span) of every span found, in the order they start."""
    text = text.translate(_DASHES)
    found = []
    for kind, pattern in _SPANS:
        for m in pattern.finditer(text):
            if kind == "clock":
                a, b = _clock(m.group(1)), _clock(m.group(2))
            elif kind == "seconds":
                a, b = float(m.group(1)), float(m.group(2))
            else:
                a, b = float(m.group(1)) * window_s / 100, float(m.group(2)) * window_s / 100
            found.append((m.start(), m.end(), (a, b) if a <= b else (b, a)))
    return sorted(found)


def parse_span(text: str, window_s: float) -> tuple[float, float] | None:
    """The first span in any of the forms people and models write: `5.5-7.5 seconds`,
    `5.5s - 7.5s`, `from 5.5 to 7.5 seconds`, `00:05-00:09`, `0:00:01 - 0:00:05`, en dashes,
    and the build's relative `25-50 (of 100)` (of `window_s`)."""
    found = _spans(text, window_s)
    return found[0][2] if found else None


def answer_text(text: str) -> str:
    """A span -> text answer without a timestamp it starts with (`5.0-9.0 sec: hello`)."""
    found = _spans(text, 100.0)
    if found and not text.translate(_DASHES)[: found[0][0]].strip():
        rest = text.translate(_DASHES)[found[0][1] :]
        if rest.lstrip().startswith(":"):
            return rest.lstrip()[1:].strip()
    return text.strip()


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else float(a == b)


# --- text ---------------------------------------------------------------------------------


def _f1(common: int, predicted: int, referenced: int) -> float:
    if not common:
        return 0.0
    precision, recall = common / predicted, common / referenced
    return 2 * precision * recall / (precision + recall)


def _overlap_f1(p: list[str], r: list[str]) -> float:
    if not p or not r:
        return float(p == r)
    return _f1(sum(min(p.count(w), r.count(w)) for w in set(p)), len(p), len(r))


def token_f1(prediction: str, reference: str) -> float:
    return _overlap_f1(words(prediction), words(reference))


_TYPOGRAPHIC = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'}
)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def squad_tokens(text: str) -> list[str]:
    """SQuAD v1.1's answer normalisation (lower case, no punctuation, no articles, single
    spaces), after typographic quotes become ASCII ones."""
    text = "".join(c for c in text.translate(_TYPOGRAPHIC).lower() if c not in _PUNCTUATION)
    return _ARTICLES.sub(" ", text).split()


def squad_em(prediction: str, reference: str) -> float:
    return float(squad_tokens(prediction) == squad_tokens(reference))


def squad_f1(prediction: str, reference: str) -> float:
    p, r = squad_tokens(prediction), squad_tokens(reference)
    if not p or not r:
        return float(p == r)
    common = sum(min(p.count(w), r.count(w)) for w in set(p))
    return _f1(common, len(p), len(r))


def _lcs(p: Sequence[str], r: Sequence[str]) -> int:
    prev = [0] * (len(r) + 1)
    for x in p:
        cur = [0]
        for j, y in enumerate(r):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F over our words, no stemming."""
    p, r = words(prediction), words(reference)
    if not p or not r:
        return float(p == r)
    return _f1(_lcs(p, r), len(p), len(r))


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's tokenizer with `use_stemmer=True`: lower case, runs of [a-z0-9], Porter
    stems of tokens longer than 3 characters."""
    from nltk.stem import porter

    stemmer = _stemmer(porter)
    tokens = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    return [stemmer.stem(t) if len(t) > 3 else t for t in tokens]


_STEMMER: list[Any] = []


def _stemmer(porter: Any) -> Any:
    if not _STEMMER:
        _STEMMER.append(porter.PorterStemmer())
    return _STEMMER[0]


def rouge_l_stemmed(prediction: str, reference: str) -> float:
    """ROUGE-L F as rouge-score's `rougeL` with `use_stemmer=True` (0 when either is empty)."""
    p, r = rouge_tokens(prediction), rouge_tokens(reference)
    if not p or not r:
        return 0.0
    return _f1(_lcs(p, r), len(p), len(r))


_SPECIAL = re.compile(r"<\|[a-z_]+\|>|</s>")


def spoken(text: str) -> str:
    """What a reply says once chat template tokens are gone: noise's `<|im_start|>` marker
    or an end token alone says nothing."""
    return _SPECIAL.sub("", text).strip()


# --- scoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """Where a sample's times are measured from, and the span the relative style divides."""

    reference: str = "clip"
    duration_ms: int | None = None

    def origin(self, row: dict[str, Any]) -> int:
        return row["clip_start_ms"] if self.reference == "clip" else 0

    def extent_ms(self, row: dict[str, Any]) -> int:
        if self.reference == "clip":
            return row["clip_end_ms"] - row["clip_start_ms"]
        if self.duration_ms is None:
            raise ValueError(
                f"video {row['video_id']}: its duration is unknown; relative "
                "timestamps on the video's timeline need it (pass --annotations)"
            )
        return self.duration_ms


def _rel(row: dict[str, Any], ms: int, frame: Frame) -> float:
    return (ms - frame.origin(row)) / 1000


def reference_span(row: dict[str, Any], frame: Frame) -> tuple[float, float]:
    """The grounding span as the sample's timestamp style writes it on the chosen timeline."""
    g = row["grounding"]
    origin, extent = frame.origin(row), None
    if g["timestamp_style"] == "relative":
        extent = frame.extent_ms(row)
    stamp = T.render_span(
        g["span_start_ms"] - origin, g["span_end_ms"] - origin, g["timestamp_style"], extent or 0
    )
    span = parse_span(stamp, (extent or 0) / 1000)
    assert span is not None, stamp  # every style the build writes parses
    return span


def _said(responses: Sequence[Response]) -> list[Response]:
    return sorted(
        (r for r in responses if spoken(r.text) and r.time is not None), key=lambda r: r.time
    )


@dataclass
class TaskScore:
    task: str
    samples: int = 0
    values: dict[str, list[float]] = field(default_factory=dict)
    pooled: dict[str, list[float]] = field(default_factory=dict)  # name -> [sum num, sum den]

    def add(self, **measures: float | None) -> None:
        for k, v in measures.items():
            if v is not None:
                self.values.setdefault(k, []).append(float(v))

    def pool(self, name: str, numerator: float, denominator: float) -> None:
        total = self.pooled.setdefault(name, [0.0, 0.0])
        total[0] += numerator
        total[1] += denominator

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"samples": self.samples}
        for k, vs in sorted(self.values.items()):
            out[k] = statistics.median(vs) if k.endswith("_median") else sum(vs) / len(vs)
        for k, (num, den) in sorted(self.pooled.items()):
            out[k] = num / den if den else None
        out["score"] = next((out[k] for k in HEADLINE[self.task] if k in out), 0.0)
        return out


# each task's headline, first present wins (a tsg task with no text -> span sample is
# scored by its span -> text answers)
HEADLINE: dict[str, tuple[str, ...]] = {
    "tsg_dialogue": (GROUNDING_HEADLINE, "squad_f1"),
    "tsg_caption": (GROUNDING_HEADLINE, "squad_f1"),
    "caption_to_dialogue": ("squad_f1",),
    "dialogue_to_caption": ("squad_f1",),
    "silence": ("pass",),
    "stop": ("pass",),
    "noise": ("pass",),
    "contrast": ("pass",),
    "rev": ("within_1s",),
    "narration": ("coverage",),
    "grounding": (GROUNDING_HEADLINE,),
}


def score_grounding(
    row: dict[str, Any],
    prediction: Response | None,
    acc: TaskScore,
    frame: Frame = Frame(),
    pooled: TaskScore | None = None,
) -> None:
    g = row["grounding"]
    text = prediction.text if prediction else ""
    if "text-to-span" in g["template_id"]:
        ref = reference_span(row, frame)
        span = parse_span(
            text, frame.extent_ms(row) / 1000 if g["timestamp_style"] == "relative" else 0.0
        )
        value = iou(span, ref) if span else 0.0
        measures = {
            "mean_iou": value,
            "unparsed": float(span is None),
            **{f"recall@{t}": float(value >= t) for t in IOU_THRESHOLDS},
        }
        acc.add(**measures)
        if pooled is not None:
            pooled.samples += 1
            pooled.add(**measures)
        return
    reference = (g["asr"] if row["task"] in SPEECH_ANSWERS else g["caption"]) or ""
    said = answer_text(text)
    speech = row["task"] in SPEECH_ANSWERS
    edits, n_words = word_edits(said, reference)
    acc.add(
        exact_match=float(words(said) == words(reference)),
        token_f1=token_f1(said, reference),
        rouge_l=rouge_l(said, reference),
        squad_em=squad_em(said, reference),
        squad_f1=squad_f1(said, reference),
        rouge_l_stemmed=rouge_l_stemmed(said, reference),
        wer=(edits / n_words if n_words else float(edits > 0)) if speech else None,
    )
    if speech:
        acc.pool("wer_pooled", edits, n_words)


def _turns(row: dict[str, Any], kind: str, role: str | None = None) -> list[dict[str, Any]]:
    return [t for t in row["turns"] if t["kind"] == kind and (role is None or t["role"] == role)]


def match_cuts(
    cuts: Sequence[float], times: Sequence[float], tolerance: float
) -> list[tuple[int, int]]:
    """(cut, response) pairs, one to one, within the tolerance: the most pairs there can be,
    and among those the least total timing error (an optimal assignment, not greedy)."""
    if not cuts or not times:
        return []
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    error = np.abs(np.subtract.outer(np.asarray(cuts, float), np.asarray(times, float)))
    outside = error > tolerance
    # a pair out of tolerance costs more than every pair in it together: most pairs first
    cost = np.where(outside, tolerance * (len(cuts) + len(times) + 1), error)
    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if not outside[i, j]]


def score_streaming(
    row: dict[str, Any], responses: Sequence[Response], acc: TaskScore, frame: Frame = Frame()
) -> None:
    said = _said(responses)
    end = _rel(row, row["clip_end_ms"], frame)
    task = row["task"]

    def at(turn: dict[str, Any]) -> float:
        return _rel(row, turn["start_ms"], frame)

    if task == "silence":
        (quiet,) = _turns(row, "silence")
        a, b = at(quiet), max(_rel(row, quiet["end_ms"], frame), end)
        acc.add(**{"pass": float(not any(a <= r.time < b for r in said))})
    elif task == "stop":
        (interrupt,) = _turns(row, "interrupt")
        acc.add(**{"pass": float(not any(r.time >= at(interrupt) for r in said))})
    elif task == "noise":
        (remark,) = _turns(row, "noise", "user")
        acc.add(**{"pass": float(not any(r.time >= at(remark) for r in said))})
    elif task == "contrast":
        (question,) = _turns(row, "question", "user")
        (remark,) = _turns(row, "noise", "user")
        tq, tn = at(question), at(remark)
        answered = any(tq <= r.time <= tq + ANSWER_WITHIN_S for r in said)
        until = tq if tq > tn else end  # the remark's stretch ends at the question
        ignored = not any(tn <= r.time < min(until, tn + ANSWER_WITHIN_S) for r in said)
        acc.add(
            question_answered=float(answered),
            remark_ignored=float(ignored),
            **{"pass": (answered + ignored) / 2},
        )
    elif task == "rev":
        (query,) = _turns(row, "query")
        (answer,) = _turns(row, "answer")
        evidence = _rel(row, answer["evidence"][0]["start_ms"], frame)
        after = [r for r in said if r.time >= at(query)]
        if not after:
            acc.add(missed=1.0, within_1s=0.0, early=0.0)
            return
        delay = after[0].time - evidence
        acc.add(
            missed=0.0,
            within_1s=float(abs(delay) <= REV_TOLERANCE_S),
            early=float(delay < -REV_TOLERANCE_S),
            delay_median=delay,
        )
    elif task == "narration":
        cuts = [at(t) for t in _turns(row, "narration")]
        pairs = match_cuts(cuts, [r.time for r in said], NARRATION_TOLERANCE_S)
        errors = [abs(said[j].time - cuts[i]) for i, j in pairs]
        acc.add(
            coverage=len(pairs) / len(cuts) if cuts else 1.0,
            timing_error=sum(errors) / len(errors) if errors else None,
            extra_responses=float(len(said) - len(pairs)),
        )


def _score_rows(
    rows: Sequence[dict[str, Any]], predictions: dict[str, list[Response]], frames: dict[str, Frame]
) -> dict[str, Any]:
    tasks: dict[str, TaskScore] = {}
    grounding = TaskScore("grounding")
    for row in rows:
        acc = tasks.setdefault(row["task"], TaskScore(row["task"]))
        acc.samples += 1
        got = predictions.get(row["sample_id"], [])
        frame = frames.get(row["video_id"], Frame())
        if row["task_family"] == "grounding":
            score_grounding(
                row,
                got[0] if got else None,
                acc,
                frame,
                grounding if row["task"] in TSG_TASKS else None,
            )
        else:
            score_streaming(row, got, acc, frame)
    per_task = {t: a.summary() for t, a in sorted(tasks.items())}
    overall = (sum(s["score"] for s in per_task.values()) / len(per_task)) if per_task else 0.0
    return {
        "tasks": per_task,
        "overall": overall,
        "grounding": grounding.summary() if grounding.samples else None,
    }


def score(
    rows: Sequence[dict[str, Any]],
    predictions: dict[str, list[Response]],
    reference: str = "clip",
    durations_ms: dict[str, int] | None = None,
    buckets: Sequence[Bucket] = VIDEO_MME_BUCKETS,
) -> dict[str, Any]:
    """Per-task summaries, an overall mean of the task scores, the pooled grounding score,
    and the same per duration bucket (with `durations_ms`, video id -> duration)."""
    if reference not in TIME_REFERENCES:
        raise ValueError(f"time reference must be one of {TIME_REFERENCES}")
    durations_ms = durations_ms or {}
    frames = {v: Frame(reference, d) for v, d in durations_ms.items()}
    if reference == "video":
        frames.update({r["video_id"]: Frame("video") for r in rows if r["video_id"] not in frames})
    out = _score_rows(rows, predictions, frames)
    by_bucket: dict[str, Any] = {}
    if durations_ms:
        for b in buckets:
            inside = [
                r
                for r in rows
                if r["video_id"] in durations_ms
                and bucket_of(durations_ms[r["video_id"]] / 1000, (b,)) == b.name
            ]
            part = _score_rows(inside, predictions, frames) if inside else None
            by_bucket[b.name] = (
                None
                if part is None
                else {
                    "samples": len(inside),
                    "overall": part["overall"],
                    "grounding": part["grounding"],
                }
            )
        counted = sum(v["samples"] for v in by_bucket.values() if v)
        out["outside_buckets"] = len(rows) - counted
    out["buckets"] = by_bucket
    return _finite(out)


def _finite(value: Any) -> Any:
    """NaN and infinities have no place in a JSON report: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
