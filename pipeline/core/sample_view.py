"""The report's sample viewer, without I/O: which samples to show per task, and each drawn as a
timeline strip over its window: keyframe thumbnails spread along it, every turn at its time.

A curator reads a few samples per task before training on thousands; the strip shows at a
glance whether an answer sits where the picture changes, a span covers what it claims, or a
silence is really silent. Positions are shares of the window, so the page needs no script.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.core.exporters import target_kind

THUMBS = 6
NEAR_PCT = 3.0  # marks closer than this along the strip go on separate rows


@dataclass(frozen=True)
class Mark:
    """One turn on the strip: a text turn at its start, a frames turn as a band."""

    start_ms: int
    end_ms: int
    role: str
    kind: str
    text: str
    learn: bool
    row: int = 0  # text turns at (nearly) the same time are stacked, not drawn over each other


@dataclass(frozen=True)
class Strip:
    sample_id: str
    task: str
    split: str
    video_id: str
    start_ms: int
    end_ms: int
    thumb_ms: tuple[int, ...]
    marks: tuple[Mark, ...]
    flags: tuple[str, ...]

    def share(self, ms: int) -> float:
        return _share(ms, self.start_ms, self.end_ms)


def _share(ms: int, start: int, end: int) -> float:
    """Where a time falls along a window, in percent (clamped to it)."""
    span = max(1, end - start)
    return round(100 * min(max(ms - start, 0), span) / span, 3)


def pick(rows: Sequence[dict[str, Any]], per_task: int) -> dict[str, list[dict[str, Any]]]:
    """Up to per_task samples of each task, from as many different videos as there are, in a
    fixed order (by sample id), so two reports of one build show the same samples."""
    chosen: dict[str, list[dict[str, Any]]] = {}
    for task in sorted({r["task"] for r in rows}):
        pool = sorted((r for r in rows if r["task"] == task), key=lambda r: r["sample_id"])
        taken: list[dict[str, Any]] = []
        seen: set[str] = set()
        for row in pool:  # one per video first, then the rest in order
            if len(taken) < per_task and row["video_id"] not in seen:
                taken.append(row)
                seen.add(row["video_id"])
        for row in pool:
            if len(taken) < per_task and row not in taken:
                taken.append(row)
        chosen[task] = taken
    return chosen


def strip(row: dict[str, Any], thumbs: int = THUMBS) -> Strip:
    """The strip of one samples row: thumbnails at the centres of `thumbs` equal parts of the
    window, so each sits under its own time."""
    start, end = row["clip_start_ms"], row["clip_end_ms"]
    step = (end - start) / thumbs
    marks: list[Mark] = []
    placed: list[tuple[float, int]] = []  # (position, row) of the text turns so far
    for t in row["turns"]:
        at = t["start_ms"] if t["start_ms"] is not None else start
        kind = target_kind(t)
        said = f"(no answer: {kind})" if kind else (t["text"] or "")
        lane = 0
        if t["kind"] != "frames":
            pos = _share(at, start, end)  # as drawn: clamped
            taken = {r for p, r in placed if abs(p - pos) < NEAR_PCT}
            lane = min(set(range(len(taken) + 1)) - taken)
            placed.append((pos, lane))
        marks.append(
            Mark(
                at,
                t["end_ms"] if t["end_ms"] is not None else at,
                t["role"],
                t["kind"],
                said,
                bool(t["learn"]),
                lane,
            )
        )
    return Strip(
        row["sample_id"],
        row["task"],
        row["split"],
        row["video_id"],
        start,
        end,
        tuple(round(start + (k + 0.5) * step) for k in range(thumbs)),
        tuple(marks),
        tuple(row["quality_flags"] or ()),
    )


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s"


def strip_html(view: Strip, thumbs: Sequence[str | None], note: str = "") -> str:
    """One strip as HTML: `thumbs` are image paths relative to the page, one per thumbnail
    time (None where the frame could not be had; `note` then says why)."""
    e = html.escape
    head = (
        f"<div class='head'><b>{e(view.task)}</b> · {e(view.video_id)} · "
        f"{_seconds(view.start_ms)}–{_seconds(view.end_ms)} · {e(view.split)}"
        + (f" · flags: {e(', '.join(view.flags))}" if view.flags else "")
        + f" · <code>{e(view.sample_id)}</code></div>"
    )
    cells = "".join(
        f"<div class='thumb' data-ms='{ms}'>"
        + (f"<img src='{e(src)}' alt='frame at {_seconds(ms)}'>" if src else "")
        + f"<span>{_seconds(ms)}</span></div>"
        for ms, src in zip(view.thumb_ms, thumbs, strict=True)
    )
    bands, marks, items = [], [], []
    lane_em = 0.9 + 1.4 * (1 + max((m.row for m in view.marks), default=0))
    for i, m in enumerate(view.marks, 1):
        title = e(f"{_seconds(m.start_ms)} {m.role}/{m.kind}: {m.text}", quote=True)
        if m.kind == "frames":
            left, right = view.share(m.start_ms), view.share(m.end_ms)
            bands.append(
                f"<div class='band' data-ms='{m.start_ms}' data-end-ms='{m.end_ms}' "
                f"style='left:{left}%;width:{round(right - left, 3)}%' "
                f"title='{title}'></div>"
            )
            said = "(the video from here to " + _seconds(m.end_ms) + ")"
        else:
            marks.append(
                f"<div class='mark {e(m.role)}' data-ms='{m.start_ms}' "
                f"style='left:{view.share(m.start_ms)}%;top:{0.6 + 1.4 * m.row:g}em' "
                f"title='{title}'>{i}</div>"
            )
            said = m.text or "(empty)"
        learn = " <i>learned</i>" if m.learn else ""
        items.append(
            f"<li value='{i}'><span class='at'>{_seconds(m.start_ms)}</span> "
            f"<b>{e(m.role)}</b>/{e(m.kind)}{learn}: {e(said)}</li>"
        )
    return (
        f"<div class='strip' data-sample='{e(view.sample_id)}'>{head}"
        f"<div class='track' data-start-ms='{view.start_ms}' data-end-ms='{view.end_ms}'>"
        f"<div class='thumbs'>{cells}</div><div class='lane' style='height:{lane_em:g}em'>"
        f"{''.join(bands)}"
        f"{''.join(marks)}</div></div>"
        + (f"<p class='note'>{e(note)}</p>" if note else "")
        + f"<ol class='turns'>{''.join(items)}</ol></div>"
    )


STYLE = (
    ".strip{margin:1em 0 2em}.head{margin:.3em 0}.track{position:relative;width:100%}"
    ".thumbs{display:flex;width:100%}.thumb{flex:1 1 0;min-width:0;position:relative;"
    "border-left:1px solid #fff;background:#eee;min-height:3em}"
    ".thumb img{display:block;width:100%;margin:0}.thumb span{position:absolute;left:2px;"
    "bottom:2px;font-size:.7em;background:rgba(255,255,255,.8)}"
    ".lane{position:relative;border-top:2px solid #333}"
    ".band{position:absolute;top:0;height:.5em;background:#8cb4e0}"
    ".mark{position:absolute;transform:translateX(-50%);font-size:.75em;"
    "border-radius:.8em;padding:0 .45em;color:#fff;background:#555}"
    ".mark.user{background:#4c72b0}.mark.assistant{background:#c44e52}"
    ".turns{font-size:.9em}.turns .at{color:#666;display:inline-block;min-width:4.5em}"
    ".note{color:#a33}"
)
