"""VideoLLM-online's conversations (`stream` turns with `num_frames`) and the frame ranges of the
pre-encoded features they load, at one feature frame rate."""

from __future__ import annotations

from typing import Any

from pipeline.core.exporters import (
    STREAMED_TASKS,
    Context,
    about,
    said,
    seconds,
    target_kind,
)
from pipeline.core.formats.base import Format, no_replay, one_json_file


def record(row: dict[str, Any], ctx: Context) -> dict[str, Any]:
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
        **about(row, ctx),
        "video": ctx.media,
        "frame_fps": ctx.frame_fps,
        "num_frames": total,
        "load_range": [first, first + total],
        "conversation": conv,
    }


# Llama-3 has no <|im_start|> (it would be six plain tokens): its begin-of-turn token
FORMAT = Format(
    "videollm-online",
    "VideoLLM-online",
    record,
    no_replay,
    one_json_file("videollm-online"),
    windowed=True,
    noise_marker="<|start_header_id|>",
    frame_fps=True,
    cannot="replay rows (no frame features)",
)
