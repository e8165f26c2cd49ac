"""LLaVA-NeXT / LongVA's `LazySupervisedDataset`: `<image>` is the one visual token they count
(videos too); `video` is joined to their `--video_folder`, so media paths are relative to one
folder; and a YAML data file that lists the JSON."""

from __future__ import annotations

from typing import Any

import yaml

from pipeline.core import templates as T
from pipeline.core.exporters import Context, about, dialogue
from pipeline.core.formats.base import Files, Format, json_file, with_token

TOKEN = "<image>"


def record(row: dict[str, Any], ctx: Context) -> dict[str, Any]:
    names = {"user": "human", "assistant": "gpt"}
    return {
        **about(row, ctx),
        "video": ctx.media,
        "conversations": [{"from": names[r], "value": v} for r, v in dialogue(row, ctx, TOKEN)],
    }


def replay(rec: dict[str, Any]) -> dict[str, Any]:
    return {**rec, "conversations": with_token(rec, TOKEN)}


def files(f: Files) -> dict[str, str]:
    data, text = json_file("llava", f.records)
    # their loader opens json_path as given: an absolute path works from any directory
    listing = {
        "datasets": [{"json_path": str(f.where / data), "sampling_strategy": "all"}],
        "ominous": {**f.header, "video_folder": f.video_folder},
    }
    return {data: text, "mixture_llava.yaml": yaml.safe_dump(listing, sort_keys=False)}


FORMAT = Format(
    "llava",
    "LLaVA-NeXT / LongVA",
    record,
    replay,
    files,
    windowed=False,
    visual_token=TOKEN,
    noise_marker=T.TURN_START,
    video_folder=True,
)
