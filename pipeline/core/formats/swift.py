"""ms-swift's messages with `<video>`, the sample's window in `chat_template_kwargs`, one JSON
line per record."""

from __future__ import annotations

import json
from typing import Any

from pipeline.core import templates as T
from pipeline.core.exporters import Context, about, dialogue, window
from pipeline.core.formats.base import ROLES, Files, Format, replay_media, with_token

TOKEN = "<video>"


def record(row: dict[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """ms-swift drops messages with empty content, so an empty assistant turn that is not the
    last (noise met first in a contrast sample) would never be learned: such a sample becomes
    one record per empty turn, ending with it (swift learns a last empty turn as the end
    token), plus the whole dialogue without it, its user turns joined."""
    start, end = window(row, ctx)
    turns = dialogue(row, ctx, TOKEN)
    base = {
        **about(row, ctx),
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


def replay(rec: dict[str, Any]) -> dict[str, Any]:
    media = replay_media(rec)
    turns = with_token(rec, TOKEN if media == "video" else "<image>")
    extra = {"id": rec["id"]} if "id" in rec else {}
    messages = [{"role": ROLES.get(t["from"], t["from"]), "content": t["value"]} for t in turns]
    return {**extra, **({f"{media}s": [rec[media]]} if media else {}), "messages": messages}


def files(f: Files) -> dict[str, str]:
    return {"mixture.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in f.records)}


FORMAT = Format(
    "swift",
    "ms-swift",
    record,
    replay,
    files,
    windowed=True,
    visual_token=TOKEN,
    noise_marker=T.TURN_START,
    splits=True,
)
