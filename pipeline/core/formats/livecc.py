"""LiveCC's `LMMDataset` conversations (content lists, `text_stream`), in their JSON-lines file
with byte offsets; optionally their commentary records (`--livecc-commentary`)."""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from typing import Any

from pipeline.core import templates as T
from pipeline.core.exporters import (
    VISUAL_TOKENS,
    Context,
    absolute,
    grounding_texts,
    target_kind,
    window,
)
from pipeline.core.formats.base import ROLES, Files, Format, replay_media

# LiveCC's stream loader (showlab/livecc `data/lmm_dataset.py`, `livecc_utils`): frames read at
# a strict 2 fps (qwen_vl_utils' FPS) from those whose end time lies in [video_start,
# video_end], padded to an even count by repeating the last; the first chunk is 6 frames, then
# chunks of 2; each chunk learns the words whose end time is at most the time of its last
# frame. Their `get_phrase_before_timestamp` hands the last word out again to every chunk
# after the stream is used up, so the window must end with the chunk that says the last word.
LIVECC_FPS = 2.0
LIVECC_FIRST_CHUNK = 6


def livecc_frames(frame_ends: Sequence[float], start: float, end: float) -> list[float]:
    """The frame times their strict-fps reader samples from [start, end] (`frame_ends`
    sorted)."""
    clip = frame_ends[bisect.bisect_left(frame_ends, start) : bisect.bisect_right(frame_ends, end)]
    if not len(clip):
        return []
    chosen, k = [], 0
    while clip[0] + k / LIVECC_FPS <= clip[-1] + 1e-6:
        # the first frame at or after the grid time; none (the time within 1e-6 past the
        # last frame): numpy's argmax over all-False, the first frame
        at = bisect.bisect_left(clip, clip[0] + k / LIVECC_FPS)
        chosen.append(clip[at] if at < len(clip) else clip[0])
        k += 1
    if len(chosen) % 2:
        chosen.append(chosen[-1])
    return chosen


def livecc_stream_end(
    frame_ends: Sequence[float], start: float, end: float, last_word_end: float
) -> float | None:
    """The earliest frame end time, at most `end`, at which LiveCC's last chunk is the one
    that says the last word (every chunk's time is its last frame's: the last two chunks
    end on the last and the third-last frame read); None where no window end does. Later
    ends only add frames, so the search stops once the chunk before the last says it."""
    first = bisect.bisect_left(frame_ends, last_word_end)
    for candidate in frame_ends[first : bisect.bisect_right(frame_ends, end + 1e-9)]:
        chosen = livecc_frames(frame_ends, start, candidate)
        n = len(chosen)
        if n < LIVECC_FIRST_CHUNK or chosen[-1] < last_word_end:
            continue
        if n - 3 < LIVECC_FIRST_CHUNK - 1 or chosen[n - 3] < last_word_end:
            return candidate
        return None  # the chunk before the last says it already, and stays so
    return None


def _livecc_video(row: dict[str, Any], ctx: Context, stream: list[list[Any]]) -> dict | None:
    """The video element of a stream record, its end moved onto the chunk that says the
    last word (where the media's frame times are known); None where no end does."""
    start, end = window(row, ctx)
    if ctx.frame_ends is not None:
        end = livecc_stream_end(ctx.frame_ends, start, end, max(w[1] for w in stream))
        if end is None:
            return None
    return {"type": "video", "video": ctx.media, "video_start": start, "video_end": end}


def record(row: dict[str, Any], ctx: Context) -> list[dict[str, Any]] | None:
    """One LiveCC conversation, or None where their stream mode cannot say the sample.

    Their stream mode takes exactly a user turn (video window, query) and an assistant
    `text_stream` of [start, end, word] on the video's own timeline; each chunk of frames
    without a word is their silence. Grounding samples are ordinary turns on the window.
    Samples with a user turn mid-stream (stop, noise, inline rev) or nothing said at all
    (silence) have no such form."""
    start, end = window(row, ctx)
    video = {"type": "video", "video": ctx.media, "video_start": start, "video_end": end}
    if row["grounding"] is not None:
        question, answer = grounding_texts(row, ctx)
        return [
            {"role": "user", "content": [video, {"type": "text", "text": question}]},
            {"role": "assistant", "content": [{"type": "text", "text": answer}]},
        ]
    spoken = [t for t in row["turns"] if t["kind"] != "frames"]
    users = [t for t in spoken if t["role"] == "user"]
    if len(users) != 1 or spoken[0] is not users[0]:
        return None
    stream = [
        [absolute(t["start_ms"], ctx), absolute(t["end_ms"], ctx), word]
        for t in spoken[1:]
        if target_kind(t) is None and t["text"]
        for word in t["text"].split()
    ]
    if not stream or (video := _livecc_video(row, ctx, stream)) is None:
        return None
    return [
        {"role": "user", "content": [video, {"type": "text", "text": users[0]["text"]}]},
        {"role": "assistant", "content": [{"type": "text", "text_stream": stream}]},
    ]


def livecc_commentary(
    row: dict[str, Any], ctx: Context, words: list[tuple[int, int, str]]
) -> list[dict[str, Any]] | None:
    """LiveCC's own kind of record for a narration sample's window: the words spoken in it
    (from the sentences' word times) as the `text_stream`, after a commentary instruction.
    None when nobody speaks inside the window."""
    a, b = row["clip_start_ms"], row["clip_end_ms"]
    stream = [
        [absolute(s, ctx), absolute(e, ctx), w.strip()]
        for s, e, w in words
        if a <= s and e <= b and w.strip()
    ]
    if row["task"] != "narration" or not stream:
        return None
    video = _livecc_video(row, ctx, stream)
    if video is None:
        return None
    return [
        {"role": "user", "content": [video, {"type": "text", "text": T.COMMENTARY_INSTRUCTION}]},
        {"role": "assistant", "content": [{"type": "text", "text_stream": stream}]},
    ]


def replay(rec: dict[str, Any]) -> list[dict[str, Any]]:
    media = replay_media(rec)
    out: list[dict[str, Any]] = []
    for t in rec["conversations"]:
        content: list[dict[str, Any]] = []
        text = t["value"]
        if media and t["from"] == "human" and not out:
            content.append({"type": media, media: rec[media]})
            for token in VISUAL_TOKENS:
                text = text.replace(token, "")
        content.append({"type": "text", "text": text.strip()})
        out.append({"role": ROLES.get(t["from"], t["from"]), "content": content})
    return out


def jsonl_with_seeks(lines: list[Any]) -> str:
    """LiveCC's annotation file: one JSON value a line (ASCII, so characters are bytes), then
    a last line listing the byte offset where each line starts, which their loader seeks."""
    text = [json.dumps(x, ensure_ascii=True) + "\n" for x in lines]
    seeks, at = [], 0
    for line in text:
        seeks.append(at)
        at += len(line)
    return "".join(text) + json.dumps(seeks)


def files(f: Files) -> dict[str, str]:
    return {"mixture_livecc.jsonl": jsonl_with_seeks(f.records)}


FORMAT = Format(
    "livecc",
    "LiveCC",
    record,
    replay,
    files,
    windowed=True,
    frame_ends=True,
    cannot="samples with a user turn mid-stream (stop, noise, inline rev) or nothing said "
    "(silence); a window no stream end fits",
)
