"""A video's annotation rows, joined by video id, as the task builders see them: its newest
annotation, judged by the curation policy, with what the policy removed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.core.curation import Policy, Rejection, judge
from pipeline.core.splits import assign_split
from pipeline.core.tasks import ClipInfo, SentenceInfo, VideoInfo


def newest(
    parts: dict[str, Iterable[dict[str, Any]]],
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The newest annotation of one video, with the sentences and clips of the same run: a
    video's rows are committed together, and a rerun with --force repeats their ids. A row
    repeated within the run (a compact killed before its swap was journalled leaves none,
    but copies made by hand do) counts once."""
    videos = sorted(parts["videos"], key=lambda r: r["provenance"]["run_id"] or "")
    if not videos:
        return None
    v = videos[-1]
    run = v["provenance"]["run_id"]
    sentences = sorted(
        {
            s["sentence_id"]: s for s in parts["sentences"] if s["provenance"]["run_id"] == run
        }.values(),
        key=lambda s: s["index"],
    )
    clips = sorted(
        {c["clip_id"]: c for c in parts["clips"] if c["provenance"]["run_id"] == run}.values(),
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
