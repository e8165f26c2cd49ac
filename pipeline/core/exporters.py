"""What every trainer format shares (the formats themselves: core/formats/, one module each):
the sample's window and times, its dialogue, and what a structural target says.

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

from dataclasses import dataclass
from typing import Any

from pipeline.core import templates as T
from pipeline.core.task_facts import tasks_where
from pipeline.errors import UsageError

EXPORT_VERSION = "export-v2"
TIME_REFERENCES = ("clip", "video")
VISUAL_TOKENS = ("<image>", "<video>")
TARGET_KINDS = {T.SILENCE_TARGET: "silence", T.NOISE_TARGET: "noise"}
NOISE_TARGETS = ("marker", "end")
STREAMED_TASKS = tasks_where("streamed")  # learn on frames: when to speak is the target


class ExportError(UsageError):
    """The export cannot be written as asked: nothing is written."""


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
    frame_fps: float | None = None  # the feature frame rate (videollm-online)


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


def about(row: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {
        "id": row["sample_id"],
        "task": row["task"],
        "time_reference": ctx.reference,
        "clip": window(row, ctx),
    }
