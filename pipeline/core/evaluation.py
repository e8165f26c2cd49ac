"""Scoring a model's answers on the samples' own tasks: plain functions of sample rows and
predictions (no I/O). Times are seconds from the sample's window start, as in the eval
prompts (`ominous export --format eval`).

Per task, one headline score (what `eval compare` tabulates) and the details behind it:
  - text -> span (both tsg tasks): mean IoU, recall at IoU 0.3 / 0.5 / 0.7; headline mean IoU;
  - span -> text, caption <-> speech: exact match, token F1, ROUGE-L, WER where the answer is
    speech; headline token F1;
  - silence: stayed silent through the stretch; stop: said nothing after the interrupt;
    noise: said nothing after the remark; contrast: answered the real question and not the
    remark (both halves reported); headline the pass rate;
  - rev: response time minus evidence start: median, share within 1 s (headline), early
    false alerts (more than 1 s before the evidence), misses;
  - narration: responses within 2 s of the cuts it should narrate: coverage (headline),
    mean timing error, extra responses.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.signals import words_of

SPEECH_ANSWERS = ("tsg_dialogue", "caption_to_dialogue")
REV_TOLERANCE_S = 1.0
NARRATION_TOLERANCE_S = 2.0
ANSWER_WITHIN_S = 3.0
IOU_THRESHOLDS = (0.3, 0.5, 0.7)

_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*sec", re.IGNORECASE)
_MMSS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*\(\s*of\s*100\s*\)",
                       re.IGNORECASE)


@dataclass(frozen=True)
class Response:
    """One thing the model said: its text, and for streaming tasks when (window seconds)."""

    text: str
    time: float | None = None


def parse_span(text: str, window_s: float) -> tuple[float, float] | None:
    """The first span in any timestamp style the build writes (seconds, mm:ss, relative)."""
    found = []
    if m := _SECONDS.search(text):
        found.append((m.start(), (float(m.group(1)), float(m.group(2)))))
    if m := _MMSS.search(text):
        found.append((m.start(), (int(m.group(1)) * 60 + int(m.group(2)),
                                  int(m.group(3)) * 60 + int(m.group(4)))))
    if m := _RELATIVE.search(text):
        found.append((m.start(), (float(m.group(1)) * window_s / 100,
                                  float(m.group(2)) * window_s / 100)))
    if not found:
        return None
    a, b = min(found)[1]
    return (a, b) if a <= b else (b, a)


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else float(a == b)


_STAMP = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*-\s*\d+(?:\.\d+)?\s*(?:seconds?|\(of 100\))|"
                    r"\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2})\s*:\s*", re.IGNORECASE)


def answer_text(text: str) -> str:
    """A span -> text answer without the timestamp the build's answers start with."""
    return _STAMP.sub("", text).strip()


def _f1(common: int, predicted: int, referenced: int) -> float:
    if not common:
        return 0.0
    precision, recall = common / predicted, common / referenced
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, reference: str) -> float:
    p, r = words_of(prediction), words_of(reference)
    if not p or not r:
        return float(p == r)
    return _f1(sum(min(p.count(w), r.count(w)) for w in set(p)), len(p), len(r))


def rouge_l(prediction: str, reference: str) -> float:
    p, r = words_of(prediction), words_of(reference)
    if not p or not r:
        return float(p == r)
    prev = [0] * (len(r) + 1)
    for x in p:
        cur = [0]
        for j, y in enumerate(r):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return _f1(prev[-1], len(p), len(r))


def wer(prediction: str, reference: str) -> float:
    p, r = words_of(prediction), words_of(reference)
    if not r:
        return float(bool(p))
    prev = list(range(len(r) + 1))
    for i, x in enumerate(p, 1):
        cur = [i]
        for j, y in enumerate(r, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1] / len(r)


def _rel(row: dict[str, Any], ms: int) -> float:
    return (ms - row["clip_start_ms"]) / 1000


def _said(responses: Sequence[Response]) -> list[Response]:
    return sorted((r for r in responses if r.text.strip() and r.time is not None),
                  key=lambda r: r.time)


@dataclass
class TaskScore:
    task: str
    samples: int = 0
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, **measures: float | None) -> None:
        for k, v in measures.items():
            if v is not None:
                self.values.setdefault(k, []).append(float(v))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"samples": self.samples}
        for k, vs in sorted(self.values.items()):
            out[k] = statistics.median(vs) if k.endswith("_median") else sum(vs) / len(vs)
        out["score"] = out.get(HEADLINE[self.task], 0.0)
        return out


HEADLINE = {"tsg_dialogue": "score_raw", "tsg_caption": "score_raw",
            "caption_to_dialogue": "token_f1", "dialogue_to_caption": "token_f1",
            "silence": "pass", "stop": "pass", "noise": "pass", "contrast": "pass",
            "rev": "within_1s", "narration": "coverage"}


def score_grounding(row: dict[str, Any], prediction: Response | None, acc: TaskScore) -> None:
    g = row["grounding"]
    text = prediction.text if prediction else ""
    window_s = (row["clip_end_ms"] - row["clip_start_ms"]) / 1000
    if "text-to-span" in g["template_id"]:
        ref = (_rel(row, g["span_start_ms"]), _rel(row, g["span_end_ms"]))
        span = parse_span(text, window_s)
        value = iou(span, ref) if span else 0.0
        acc.add(mean_iou=value, unparsed=float(span is None), score_raw=value,
                **{f"recall@{t}": float(value >= t) for t in IOU_THRESHOLDS})
        return
    reference = (g["asr"] if row["task"] in SPEECH_ANSWERS else g["caption"]) or ""
    said = answer_text(text)
    f1 = token_f1(said, reference)
    acc.add(exact_match=float(words_of(said) == words_of(reference)), token_f1=f1,
            rouge_l=rouge_l(said, reference),
            wer=wer(said, reference) if row["task"] in SPEECH_ANSWERS else None,
            score_raw=f1 if row["task"] in ("tsg_dialogue", "tsg_caption") else None)


def _turns(row: dict[str, Any], kind: str, role: str | None = None) -> list[dict[str, Any]]:
    return [t for t in row["turns"] if t["kind"] == kind and (role is None or t["role"] == role)]


def score_streaming(row: dict[str, Any], responses: Sequence[Response], acc: TaskScore) -> None:
    said = _said(responses)
    end = _rel(row, row["clip_end_ms"])
    task = row["task"]
    if task == "silence":
        (quiet,) = _turns(row, "silence")
        a, b = _rel(row, quiet["start_ms"]), max(_rel(row, quiet["end_ms"]), end)
        acc.add(**{"pass": float(not any(a <= r.time < b for r in said))})
    elif task == "stop":
        (interrupt,) = _turns(row, "interrupt")
        t = _rel(row, interrupt["start_ms"])
        acc.add(**{"pass": float(not any(r.time >= t for r in said))})
    elif task == "noise":
        (remark,) = _turns(row, "noise", "user")
        t = _rel(row, remark["start_ms"])
        acc.add(**{"pass": float(not any(r.time >= t for r in said))})
    elif task == "contrast":
        (question,) = _turns(row, "question", "user")
        (remark,) = _turns(row, "noise", "user")
        tq, tn = _rel(row, question["start_ms"]), _rel(row, remark["start_ms"])
        answered = any(tq <= r.time <= tq + ANSWER_WITHIN_S for r in said)
        until = tq if tq > tn else end  # the remark's stretch ends at the question
        ignored = not any(tn <= r.time < min(until, tn + ANSWER_WITHIN_S) for r in said)
        acc.add(question_answered=float(answered), remark_ignored=float(ignored),
                **{"pass": (answered + ignored) / 2})
    elif task == "rev":
        (query,) = _turns(row, "query")
        (answer,) = _turns(row, "answer")
        evidence = _rel(row, answer["evidence"][0]["start_ms"])
        after = [r for r in said if r.time >= _rel(row, query["start_ms"])]
        if not after:
            acc.add(missed=1.0, within_1s=0.0, early=0.0)
            return
        delay = after[0].time - evidence
        acc.add(missed=0.0, within_1s=float(abs(delay) <= REV_TOLERANCE_S),
                early=float(delay < -REV_TOLERANCE_S), delay_median=delay)
    elif task == "narration":
        cuts = [_rel(row, t["start_ms"]) for t in _turns(row, "narration")]
        free = list(said)
        errors = []
        for cut in cuts:
            best = min(free, key=lambda r: abs(r.time - cut), default=None)
            if best is not None and abs(best.time - cut) <= NARRATION_TOLERANCE_S:
                errors.append(abs(best.time - cut))
                free.remove(best)
        acc.add(coverage=len(errors) / len(cuts) if cuts else 1.0,
                timing_error=sum(errors) / len(errors) if errors else None,
                extra_responses=float(len(free)))


def score(rows: Sequence[dict[str, Any]], predictions: dict[str, list[Response]]
          ) -> dict[str, Any]:
    """Per-task summaries and an overall mean of the task scores, for samples with rows."""
    tasks: dict[str, TaskScore] = {}
    for row in rows:
        acc = tasks.setdefault(row["task"], TaskScore(row["task"]))
        acc.samples += 1
        got = predictions.get(row["sample_id"], [])
        if row["task_family"] == "grounding":
            score_grounding(row, got[0] if got else None, acc)
        else:
            score_streaming(row, got, acc)
    per_task = {t: a.summary() for t, a in sorted(tasks.items())}
    overall = (sum(s["score"] for s in per_task.values()) / len(per_task)) if per_task else 0.0
    return {"tasks": per_task, "overall": overall}
