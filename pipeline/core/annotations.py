"""A video's annotation rows, joined by video id, as the task builders see them: its newest
annotation, judged by the curation policy, with what the policy removed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.core.curation import Policy, Rejection, judge
from pipeline.core.splits import assign_split
from pipeline.core.tasks import ClipInfo, SentenceInfo, VideoInfo


def recency(provenance: dict[str, Any] | None) -> tuple[bool, int, str]:
    """Sort key of the run that wrote a row, oldest first: when the run started (rows from
    before that was recorded come first), then its id. Never the id alone: `--run-id` is any
    name, and "final" sorts before "retry"."""
    p = provenance or {}
    started = p.get("run_started_ms")
    return started is not None, started or 0, p.get("run_id") or ""


def newest_by_video(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """video_id -> its newest row (by `recency`; on a tie the later row, as a rerun's)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        kept = out.get(r["video_id"])
        if kept is None or recency(r["provenance"]) >= recency(kept["provenance"]):
            out[r["video_id"]] = r
    return out


def newest(
    parts: dict[str, Iterable[dict[str, Any]]],
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The newest annotation of one video, with the sentences and clips of the same run: a
    video's rows are committed together, and a rerun with --force repeats their ids. A row
    repeated within the run (a compact killed before its swap was journalled leaves none,
    but copies made by hand do) counts once."""
    found = newest_by_video(parts["videos"])
    if not found:
        return None
    (v,) = found.values()
    run = recency(v["provenance"])  # the same run: its id and its start
    sentences = sorted(
        {
            s["sentence_id"]: s for s in parts["sentences"] if recency(s["provenance"]) == run
        }.values(),
        key=lambda s: s["index"],
    )
    clips = sorted(
        {c["clip_id"]: c for c in parts["clips"] if recency(c["provenance"]) == run}.values(),
        key=lambda c: c["index"],
    )
    return v, sentences, clips


def judged_video(
    parts: dict[str, Iterable[dict[str, Any]]],
    split_by: str,
    fractions: tuple[float, float],
    policy: Policy,
    duplicate_of: str | None = None,
) -> tuple[VideoInfo | None, tuple[Rejection, ...]] | None:
    """(the video as the builders see it, or None where the policy drops it; the policy's
    removals), or None for rows without a videos row (orphans)."""
    found = newest(parts)
    if found is None:
        return None
    v, sentences, clips = found
    verdict = judge(v, sentences, clips, policy, duplicate_of)
    if not verdict.keep:
        return None, tuple(verdict.rejections)
    split = (
        v["split"]
        if split_by == "video"
        else assign_split(v["channel_id"] or v["video_id"], *fractions)
    )
    return VideoInfo(
        video_id=v["video_id"],
        duration_ms=v["duration_ms"],
        split=split,
        sentences=tuple(
            SentenceInfo(
                s["sentence_id"],
                s["start_ms"],
                s["end_ms"],
                s["text"],
                s["interpolated_fraction"] or 0.0,
            )
            for s in sentences
            if s["sentence_id"] not in verdict.drop_sentences
        ),
        clips=tuple(
            ClipInfo(
                c["clip_id"],
                c["start_ms"],
                c["end_ms"],
                c["scene_boundary"],
                c["caption"],
                c["caption_model"],
                c.get("motion"),
                c.get("frame_hash"),
            )
            for c in clips
            if c["clip_id"] not in verdict.drop_clips
        ),
        provenance=dict(v["provenance"]),
        speech_spans=verdict.speech_spans,
        blocked_tasks=verdict.blocked_tasks,
    ), tuple(verdict.rejections)
