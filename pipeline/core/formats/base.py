"""What a trainer format is: the record builder, the replay rewrite, the files it writes and
the facts export, the CLI, the docs and the tests need (core/formats/__init__.py registers
them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.exporters import VISUAL_TOKENS, Context


@dataclass(frozen=True)
class Files:
    """What a format's files are written from."""

    records: list[Any]  # the samples' records, then the replay's
    name: str  # the mixture's recipe name
    header: dict[str, Any]  # export_version, recipe, seed, time reference, ...
    video_folder: str | None  # the folder media paths are relative to, where they are
    replay: list[Any]  # the replay's records alone
    where: Path  # the output folder's absolute path


@dataclass(frozen=True)
class Format:
    name: str
    trainer: str  # whose loader reads it (docs)
    # one sample -> its record, a list of records (`splits`) or one record that is a list
    # (livecc's conversation), or None where the format cannot say the sample
    record: Callable[[dict[str, Any], Context], Any]
    # a LLaVA-style replay row -> its record here, or None where it has no form
    replay: Callable[[dict[str, Any]], Any]
    files: Callable[[Files], dict[str, str]]  # file name -> text
    windowed: bool  # shows the sample's window: times default to it (`clip`)
    visual_token: str | None = None  # the token its loader counts per video
    noise_marker: str = ""  # its template's begin-of-turn token, what noise learns
    splits: bool = False  # a list from `record` is several records
    video_folder: bool = False  # media paths relative to one folder (--video_folder)
    frame_ends: bool = False  # needs each video's frame end times (decord's)
    frame_fps: bool = False  # needs the samples' one frame rate
    cannot: str = ""  # what it cannot express, left out and counted


def retoken(text: str, token: str) -> str:
    """Every visual token in `text` as `token`."""
    for other in VISUAL_TOKENS:
        text = text.replace(other, token)
    return text


def replay_media(rec: dict[str, Any]) -> str | None:
    """video or image: which media a replay row has, if any."""
    return "video" if rec.get("video") else "image" if rec.get("image") else None


def with_token(rec: dict[str, Any], token: str) -> list[dict[str, Any]]:
    """A replay row's turns with its visual token `token`, exactly once where it has media."""
    turns = [dict(t) for t in rec["conversations"]]
    if replay_media(rec):
        for t in turns:
            t["value"] = retoken(t["value"], token)
        if not any(token in t["value"] for t in turns):
            first = next(t for t in turns if t["from"] == "human")
            first["value"] = f"{token}\n{first['value']}"
    return turns


ROLES = {"human": "user", "gpt": "assistant", "system": "system"}  # replay `from` -> role


def json_file(fmt: str, records: list[Any]) -> tuple[str, str]:
    """(file name, text) of the records as one JSON list."""
    return f"mixture_{fmt.replace('-', '_')}.json", json.dumps(
        records, ensure_ascii=False, indent=1
    )


def one_json_file(fmt: str) -> Callable[[Files], dict[str, str]]:
    """The files of a format that writes its records as one JSON list and nothing else."""
    return lambda f: dict([json_file(fmt, f.records)])


def no_replay(rec: dict[str, Any]) -> None:
    """Streaming formats need times or frame features that replay rows lack."""
    return
