"""LLaMA-Factory's sharegpt datasets: `<video>` once per video row, and a dataset_info.json
entry that names the file and its columns."""

from __future__ import annotations

import json
from typing import Any

from pipeline.core import templates as T
from pipeline.core.exporters import Context, about, dialogue
from pipeline.core.formats.base import Files, Format, json_file, replay_media, with_token

TOKEN = "<video>"


def record(row: dict[str, Any], ctx: Context) -> dict[str, Any]:
    names = {"user": "human", "assistant": "gpt"}
    return {
        **about(row, ctx),
        "videos": [ctx.media],
        "conversations": [{"from": names[r], "value": v} for r, v in dialogue(row, ctx, TOKEN)],
    }


def replay(rec: dict[str, Any]) -> dict[str, Any]:
    media = replay_media(rec)
    turns = with_token(rec, TOKEN if media == "video" else "<image>")
    extra = {"id": rec["id"]} if "id" in rec else {}
    return {**extra, **({f"{media}s": [rec[media]]} if media else {}), "conversations": turns}


def dataset_name(recipe: str) -> str:
    """The name a mixture's dataset has in LLaMA-Factory's dataset_info.json."""
    return "ominous_" + "".join(c if c.isalnum() else "_" for c in recipe).strip("_").lower()


def files(f: Files) -> dict[str, str]:
    data, text = json_file("llamafactory", f.records)
    columns = {"messages": "conversations", "videos": "videos"}
    if any("images" in r for r in f.replay):
        columns["images"] = "images"
    tags = {
        "role_tag": "from",
        "content_tag": "value",
        "user_tag": "human",
        "assistant_tag": "gpt",
        "system_tag": "system",
    }
    info = {
        dataset_name(f.name): {
            "file_name": data,
            "formatting": "sharegpt",
            "columns": columns,
            "tags": tags,
        }
    }
    return {data: text, "dataset_info.json": json.dumps(info, indent=2)}


FORMAT = Format(
    "llamafactory",
    "LLaMA-Factory",
    record,
    replay,
    files,
    windowed=False,
    visual_token=TOKEN,
    noise_marker=T.TURN_START,
)
