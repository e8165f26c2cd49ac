"""Trainer formats from sample rows, each shaped the way its trainer's own loader reads it.

  - llava:            LLaVA-NeXT / LongVA `LazySupervisedDataset`: `<image>` is the one visual
                      token they count (videos too); `video` is joined to `--video_folder`.
  - llamafactory:     LLaMA-Factory sharegpt: `<video>` once per video row.
  - swift:            ms-swift messages with `<video>`, the window in `chat_template_kwargs`.
  - livecc:           LiveCC `LMMDataset` conversations (content lists, `text_stream`).
  - videollm-online:  VideoLLM-online conversations (`stream` turns with `num_frames`) and the
                      frame ranges of pre-encoded features they load.
  - streaming:        ours: every turn with its time, frames as spans.

Times: trainers that show the sample's window (swift, livecc, videollm-online, streaming)
default to times relative to it (`clip`); trainers that always show the whole video (llava,
llamafactory) take times on the video's timeline (`video`), so no time names a frame the
trainer does not show. Grounding texts are rendered again from the sample's grounding record
for the chosen origin.

Targets are template structure: silence and stop are an empty assistant turn (the template
adds its own end token), or, where a format streams frames, the frames on which nothing is
said. Noise (a remark that asks nothing) is not stop: as in the founding notes
(`<|im_start|><|im_end|>`) it learns the template's begin-of-turn special token and then the
end token the template adds (`--noise-target marker`, the default; `end` teaches it stop's
bare end token instead). The marker is the only special token a record holds, as a whole
assistant turn, so each trainer's tokenizer reads it as one id.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.core import templates as T
from pipeline.core.task_facts import tasks_where
from pipeline.errors import UsageError

EXPORT_VERSION = "export-v2"
FORMATS = ("llava", "llamafactory", "swift", "livecc", "videollm-online", "streaming")
TIME_REFERENCES = ("clip", "video")
WINDOWED = frozenset({"swift", "livecc", "videollm-online", "streaming"})
VISUAL_TOKEN = {"llava": "<image>", "llamafactory": "<video>", "swift": "<video>"}
VISUAL_TOKENS = ("<image>", "<video>")
TARGET_KINDS = {T.SILENCE_TARGET: "silence", T.NOISE_TARGET: "noise"}
NOISE_TARGETS = ("marker", "end")
# Each chat template's begin-of-turn special token: ChatML's for the Qwen2 templates (LLaVA-NeXT
# / LongVA qwen_1_5, LLaMA-Factory and ms-swift qwen2_vl); VideoLLM-online's Llama-3 has no
# <|im_start|> (it would be six plain tokens), its begin-of-turn token is <|start_header_id|>.
NOISE_MARKER = {
    "llava": T.TURN_START,
    "llamafactory": T.TURN_START,
    "swift": T.TURN_START,
    "videollm-online": "<|start_header_id|>",
}
STREAMED_TASKS = tasks_where("streamed")  # learn on frames: when to speak is the target


class ExportError(UsageError):
    """The export cannot be written as asked: nothing is written."""


def default_reference(fmt: str) -> str:
    return "clip" if fmt in WINDOWED else "video"


def check_reference(fmt: str, reference: str) -> None:
    if reference not in TIME_REFERENCES:
        raise ExportError(f"time reference must be one of {TIME_REFERENCES}")
    if reference == "clip" and fmt not in WINDOWED:
        raise ExportError(
            f"{fmt} trainers show the whole video, not the sample's window: "
            "times relative to the window would name frames they never show; "
            "use --time-reference video"
        )


@dataclass(frozen=True)
class Context:
    """How one sample is written: its media path as the trainer reads it, the time origin."""

    media: str
    reference: str
    decimals: int
    duration_ms: int | None = None
    noise_marker: str = ""  # what a noise target says before the end token ("": nothing)
    # the media's frame end times (s), as decord gives them: livecc ends a stream window on
    # one of them (livecc_stream_end); None leaves the window as the sample's
    frame_ends: tuple[float, ...] | None = None


def noise_marker(fmt: str, noise_target: str) -> str:
    """The text a noise turn holds in this format: its template's begin-of-turn token, or
    nothing (`end`: the bare end token, as stop)."""
    if noise_target not in NOISE_TARGETS:
        raise ExportError(f"noise target must be one of {NOISE_TARGETS}")
    return NOISE_MARKER.get(fmt, "") if noise_target == "marker" else ""


def seconds(ms: int, row: dict[str, Any], ctx: Context) -> float:
    origin = row["clip_start_ms"] if ctx.reference == "clip" else 0
    return round((ms - origin) / 1000, ctx.decimals)


def absolute(ms: int, ctx: Context) -> float:
    return round(ms / 1000, ctx.decimals)


def window(row: dict[str, Any], ctx: Context) -> list[float]:
    """The sample's window on the video's own timeline."""
    return [absolute(row["clip_start_ms"], ctx), absolute(row["clip_end_ms"], ctx)]


def target_kind(turn: dict[str, Any]) -> str | None:
    """silence, stop or noise for an assistant turn whose target is template structure."""
    if turn["target_override"] is None:
        return None
    return (
        "stop"
        if turn["kind"] == "stop"
        else TARGET_KINDS.get(turn["target_override"], turn["kind"])
    )


def grounding_texts(row: dict[str, Any], ctx: Context) -> tuple[str, str]:
    """The question and answer of a grounding sample with times from the chosen origin."""
    g = row["grounding"]
    tpl = T.GROUNDING[g["template_id"]]
    if ctx.reference == "clip":
        origin, span = row["clip_start_ms"], row["clip_end_ms"] - row["clip_start_ms"]
    else:
        if g["timestamp_style"] == "relative" and ctx.duration_ms is None:
            raise ExportError(
                "relative timestamps on the whole video need the video's "
                "duration: pass --annotations"
            )
        origin, span = 0, ctx.duration_ms or 0
    stamp = T.render_span(
        g["span_start_ms"] - origin, g["span_end_ms"] - origin, g["timestamp_style"], span
    )
    values = {"timestamp": stamp, "asr": g["asr"], "caption": g["caption"]}
    return tpl.user.format(**values), tpl.assistant.format(**values)


def said(row: dict[str, Any], turn: dict[str, Any], ctx: Context) -> str:
    """What a turn says: empty for a structural target (the noise marker for noise),
    re-timed text for grounding."""
    kind = target_kind(turn)
    if kind is not None:
        return ctx.noise_marker if kind == "noise" else ""
    if row["grounding"] is not None:
        question, answer = grounding_texts(row, ctx)
        return question if turn["role"] == "user" else answer
    return turn["text"]


def dialogue(row: dict[str, Any], ctx: Context, token: str) -> list[tuple[str, str]]:
    """(role, text) pairs, user first, roles alternating; streaming turns carry `Time=t s`.

    Same-role turns merge (a rev silence and its answer become one answer); an empty
    assistant turn stays empty, so the template's end token is its whole target."""
    out: list[tuple[str, str]] = []
    streaming = row["task_family"] == "streaming"
    for t in row["turns"]:
        if t["kind"] == "frames":
            continue
        text = said(row, t, ctx)
        if streaming and text and target_kind(t) is None:
            text = f"Time={seconds(t['start_ms'], row, ctx)}s {text}"
        role = "user" if t["role"] == "user" else "assistant"
        if out and out[-1][0] == role:
            out[-1] = (role, "\n".join(x for x in (out[-1][1], text) if x))
        else:
            out.append((role, text))
    if out and out[0][0] == "user":
        out[0] = ("user", f"{token}\n{out[0][1]}")
    else:
        out.insert(0, ("user", token))
    return out


def _about(row: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {
        "id": row["sample_id"],
        "task": row["task"],
        "time_reference": ctx.reference,
        "clip": window(row, ctx),
    }


def llava(row: dict[str, Any], ctx: Context) -> dict[str, Any]:
    names = {"user": "human", "assistant": "gpt"}
    return {
        **_about(row, ctx),
        "video": ctx.media,
        "conversations": [
            {"from": names[r], "value": v} for r, v in dialogue(row, ctx, VISUAL_TOKEN["llava"])
        ],
    }


def llamafactory(row: dict[str, Any], ctx: Context) -> dict[str, Any]:
    names = {"user": "human", "assistant": "gpt"}
    return {
        **_about(row, ctx),
        "videos": [ctx.media],
        "conversations": [
            {"from": names[r], "value": v}
            for r, v in dialogue(row, ctx, VISUAL_TOKEN["llamafactory"])
        ],
    }


def swift(row: dict[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """ms-swift drops messages with empty content, so an empty assistant turn that is not the
    last (noise met first in a contrast sample) would never be learned: such a sample becomes
    one record per empty turn, ending with it (swift learns a last empty turn as the end
    token), plus the whole dialogue without it, its user turns joined."""
    start, end = window(row, ctx)
    turns = dialogue(row, ctx, VISUAL_TOKEN["swift"])
    base = {
        **_about(row, ctx),
        "videos": [ctx.media],
        "chat_template_kwargs": {"video_start": start, "video_end": end},
    }

    def record(pairs: list[tuple[str, str]], part: str = "") -> dict[str, Any]:
        return {
            **base,
            "id": row["sample_id"] + part,
            "messages": [{"role": r, "content": v} for r, v in pairs],
        }

    inner = [i for i, (r, v) in enumerate(turns[:-1]) if r == "assistant" and not v]
    prefixes = [record(turns[: i + 1], f"#{i}") for i in inner]
    joined: list[tuple[str, str]] = []
    for i, (r, v) in enumerate(turns):
        if i in inner:
            continue
        if joined and joined[-1][0] == r:
            joined[-1] = (r, f"{joined[-1][1]}\n{v}")
        else:
            joined.append((r, v))
    return [*prefixes, record(joined)]


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


def livecc(row: dict[str, Any], ctx: Context) -> list[dict[str, Any]] | None:
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


def videollm_online(row: dict[str, Any], ctx: Context, frame_fps: float) -> dict[str, Any]:
    """Their conversation: `stream` turns of `num_frames` pre-encoded frames, user and
    assistant turns in between, never two assistant turns in a row.

    As in their narration streams, the window's first frame opens the conversation, and each
    later stream holds the frames after the previous turn up to and including the frame at
    its end (the last stops before the window's open end): an answer at a cut comes after
    the cut's frame. The streams add up to the loaded range. Silence is learned on frames
    (their frame-interval token), never as an assistant turn; stop and noise are an empty
    learned answer (their end token). Turn `time`s are on the record's `time_reference`, as
    its texts are (their loader reads frame counts and ranges, not these times)."""
    conv: list[dict[str, Any]] = []
    learn_frames = row["task"] in STREAMED_TASKS or any(
        target_kind(t) == "silence" for t in row["turns"]
    )
    seen_instruction = False
    frames = [t for t in row["turns"] if t["kind"] == "frames"]
    if frames:  # frames tile the window from its start
        conv.append(
            {
                "role": "stream",
                "num_frames": 1,
                "learn": False,
                "time": seconds(row["clip_start_ms"], row, ctx),
            }
        )
    for t in row["turns"]:
        at = seconds(t["start_ms"], row, ctx)  # on the record's time_reference, as texts are
        if t["kind"] == "frames":
            # the window's end is open: a frame at the very end would lie past the video
            n = (
                t["frame_end"]
                - t["frame_start"]
                - (t is frames[-1] and t["end_ms"] >= row["clip_end_ms"])
            )
            if n <= 0:
                continue
            learn = learn_frames and seen_instruction
            if conv and conv[-1]["role"] == "stream":
                conv[-1]["num_frames"] += n
                conv[-1]["learn"] = conv[-1]["learn"] or learn
            else:
                conv.append({"role": "stream", "num_frames": n, "learn": learn, "time": at})
            continue
        if t["role"] == "user":
            seen_instruction = True
            conv.append({"role": "user", "content": said(row, t, ctx), "time": at})
            continue
        kind = target_kind(t)
        if kind == "silence":
            if conv and conv[-1]["role"] == "stream":
                conv[-1]["learn"] = True
            continue
        text = said(row, t, ctx)
        if conv and conv[-1]["role"] == "assistant":
            conv[-1]["content"] = "\n".join(x for x in (conv[-1]["content"], text) if x)
        else:
            conv.append({"role": "assistant", "content": text, "learn": True, "time": at})
    first = frames[0]["frame_start"] if frames else 0
    total = sum(m["num_frames"] for m in conv if m["role"] == "stream")
    return {
        **_about(row, ctx),
        "video": ctx.media,
        "frame_fps": frame_fps,
        "num_frames": total,
        "load_range": [first, first + total],
        "conversation": conv,
    }


def streaming(row: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Every turn with its time; frames as [time, end_time]; structural targets named."""
    conv = []
    for t in row["turns"]:
        at = seconds(t["start_ms"], row, ctx)
        end = seconds(t["end_ms"], row, ctx)
        if t["kind"] == "frames":
            conv.append({"role": "stream", "time": at, "end_time": end})
            continue
        conv.append(
            {
                "role": t["role"],
                "content": said(row, t, ctx),
                "time": at,
                "end_time": end,
                "learn": t["learn"],
                "target": target_kind(t),
            }
        )
    return {**_about(row, ctx), "video": ctx.media, "conversation": conv}


def _retoken(text: str, token: str) -> str:
    for other in VISUAL_TOKENS:
        text = text.replace(other, token)
    return text


def replay_as(fmt: str, rec: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]] | None:
    """A LLaVA-style replay row in the format's shape, with the visual token that format's
    loader counts, exactly once for a row with media; None where it has no form (streaming
    formats need times or frame features that replay rows lack)."""
    media_key = "video" if rec.get("video") else "image" if rec.get("image") else None
    turns = [dict(t) for t in rec["conversations"]]
    if fmt in VISUAL_TOKEN and media_key:
        token = VISUAL_TOKEN[fmt] if media_key == "video" or fmt == "llava" else "<image>"
        for t in turns:
            t["value"] = _retoken(t["value"], token)
        if not any(token in t["value"] for t in turns):
            first = next(t for t in turns if t["from"] == "human")
            first["value"] = f"{token}\n{first['value']}"
    if fmt == "llava":
        return {**rec, "conversations": turns}
    media = {f"{media_key}s": [rec[media_key]]} if media_key else {}
    extra = {"id": rec["id"]} if "id" in rec else {}
    if fmt == "llamafactory":
        return {**extra, **media, "conversations": turns}
    names = {"human": "user", "gpt": "assistant", "system": "system"}
    if fmt == "swift":
        return {
            **extra,
            **media,
            "messages": [
                {"role": names.get(t["from"], t["from"]), "content": t["value"]} for t in turns
            ],
        }
    if fmt == "livecc":
        out = []
        for t in turns:
            content: list[dict[str, Any]] = []
            text = t["value"]
            if media_key and t["from"] == "human" and not out:
                content.append({"type": media_key, media_key: rec[media_key]})
                for token in VISUAL_TOKENS:
                    text = text.replace(token, "")
            content.append({"type": "text", "text": text.strip()})
            out.append({"role": names.get(t["from"], t["from"]), "content": content})
        return out
    return None


def jsonl_with_seeks(lines: list[Any]) -> str:
    """LiveCC's annotation file: one JSON value a line (ASCII, so characters are bytes), then
    a last line listing the byte offset where each line starts, which their loader seeks."""
    text = [json.dumps(x, ensure_ascii=True) + "\n" for x in lines]
    seeks, at = [], 0
    for line in text:
        seeks.append(at)
        at += len(line)
    return "".join(text) + json.dumps(seeks)
