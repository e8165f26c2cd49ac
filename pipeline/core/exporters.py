"""Trainer formats from sample rows: LLaVA/LongVA, ms-swift, LLaMA-Factory sharegpt, and
streaming JSON with absolute times (VideoLLM-online / LiveCC style).

Times are rendered from ms with a fixed number of decimals, relative to the clip window
(`clip`) or to the video (`video`); every record says which in `time_reference`.
"""

from __future__ import annotations

from typing import Any

EXPORT_VERSION = "export-v1"
FORMATS = ("llava", "swift", "llamafactory", "streaming")
TIME_REFERENCES = ("clip", "video")


def seconds(ms: int, row: dict[str, Any], reference: str, decimals: int) -> float:
    origin = row["clip_start_ms"] if reference == "clip" else 0
    return round((ms - origin) / 1000, decimals)


def _said(turn: dict[str, Any]) -> str:
    return turn["target_override"] if turn["target_override"] is not None else turn["text"]


def dialogue(row: dict[str, Any], reference: str, decimals: int) -> list[tuple[str, str]]:
    """(role, text) pairs with same-role turns merged; streaming turns carry their time.

    Grounding samples are one question and one answer; streaming turns are prefixed with
    `Time=t` (t in seconds) so a non-streaming trainer still sees when each was said.
    """
    out: list[tuple[str, str]] = []
    streaming = row["task_family"] == "streaming"
    for t in row["turns"]:
        if t["kind"] == "frames":
            continue
        text = _said(t)
        if streaming:
            text = f"Time={seconds(t['start_ms'], row, reference, decimals)}s {text}"
        role = "user" if t["role"] == "user" else "assistant"
        if out and out[-1][0] == role:
            out[-1] = (role, out[-1][1] + "\n" + text)
        else:
            out.append((role, text))
    if out and out[0][0] == "user":
        out[0] = ("user", "<video>\n" + out[0][1])
    else:
        out.insert(0, ("user", "<video>"))
    return out


def _clip(row: dict[str, Any], decimals: int) -> list[float]:
    """The clip window on the video's own timeline, whatever the turns are relative to."""
    return [seconds(row["clip_start_ms"], row, "video", decimals),
            seconds(row["clip_end_ms"], row, "video", decimals)]


def llava(row: dict[str, Any], video: str, reference: str, decimals: int) -> dict[str, Any]:
    names = {"user": "human", "assistant": "gpt"}
    return {"id": row["sample_id"], "video": video, "clip": _clip(row, decimals),
            "time_reference": reference, "task": row["task"],
            "conversations": [{"from": names[r], "value": v}
                              for r, v in dialogue(row, reference, decimals)]}


def swift(row: dict[str, Any], video: str, reference: str, decimals: int) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": v}
                         for r, v in dialogue(row, reference, decimals)],
            "videos": [video], "id": row["sample_id"], "clip": _clip(row, decimals),
            "time_reference": reference}


def llamafactory(row: dict[str, Any], video: str, reference: str, decimals: int
                 ) -> dict[str, Any]:
    names = {"user": "human", "assistant": "gpt"}
    return {"conversations": [{"from": names[r], "value": v}
                              for r, v in dialogue(row, reference, decimals)],
            "videos": [video], "id": row["sample_id"], "clip": _clip(row, decimals),
            "time_reference": reference}


def streaming(row: dict[str, Any], video: str, reference: str, decimals: int
              ) -> dict[str, Any]:
    """One record per sample: every turn with its time, frames as spans to stream."""
    conv = []
    for t in row["turns"]:
        at = seconds(t["start_ms"], row, reference, decimals)
        if t["kind"] == "frames":
            conv.append({"role": "stream", "time": [at, seconds(t["end_ms"], row, reference,
                                                                decimals)]})
            continue
        item = {"role": t["role"], "content": _said(t), "time": at, "learn": t["learn"]}
        if t["end_ms"] != t["start_ms"]:
            item["end_time"] = seconds(t["end_ms"], row, reference, decimals)
        conv.append(item)
    return {"id": row["sample_id"], "task": row["task"], "video": video,
            "clip": _clip(row, decimals), "time_reference": reference,
            "conversation": conv}


def replay_as(fmt: str, rec: dict[str, Any]) -> dict[str, Any] | None:
    """Replay rows: unchanged for LLaVA; field names mapped for swift and LLaMA-Factory;
    left out of streaming JSON (they have no times)."""
    if fmt == "llava":
        return rec
    names = {"human": "user", "gpt": "assistant", "system": "system"}
    media = [rec["video"]] if rec.get("video") else []
    if fmt == "swift":
        out = {"messages": [{"role": names.get(t["from"], t["from"]), "content": t["value"]}
                            for t in rec["conversations"]]}
        return {**out, "videos": media} if media else out
    if fmt == "llamafactory":
        return {"conversations": rec["conversations"], **({"videos": media} if media else {})}
    return None


RECORD = {"llava": llava, "swift": swift, "llamafactory": llamafactory, "streaming": streaming}
