"""Export a mixture to a trainer's format: one command, `--format`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from tqdm import tqdm

from pipeline.core import exporters
from pipeline.core.chat import RENDER_VERSION
from pipeline.core.recipes import RecipeError
from pipeline.io.parquet import read_table, table_files


@dataclass(frozen=True)
class ExportSummary:
    files: tuple[str, ...]
    samples: int
    replay: int


def _video_paths(annotations: str | None) -> dict[str, str]:
    """video_id -> media path from annotate's videos table, when one is given."""
    if annotations is None or not table_files(annotations, "videos"):
        return {}
    t = read_table(annotations, "videos", ["video_id", "media_uri"])
    return dict(zip(t["video_id"].to_pylist(), t["media_uri"].to_pylist(), strict=True))


def export(mix_dir: str, fmt: str, out: str, annotations: str | None = None,
           video_root: str | None = None, reference: str = "clip", decimals: int = 1
           ) -> ExportSummary:
    if fmt not in exporters.FORMATS:
        raise RecipeError(f"unknown format {fmt!r}; known: {exporters.FORMATS}")
    if reference not in exporters.TIME_REFERENCES:
        raise RecipeError(f"time reference must be one of {exporters.TIME_REFERENCES}")
    mix = Path(mix_dir)
    meta_file = mix / "mixture.yaml"
    if not meta_file.is_file():
        raise RecipeError(f"{mix_dir} holds no mixture (mixture.yaml): run ominous mix first")
    meta = yaml.safe_load(meta_file.read_text())
    paths = _video_paths(annotations)
    root = video_root.rstrip("/") + "/" if video_root else ""

    def video(video_id: str) -> str:
        return paths.get(video_id) or f"{root}{video_id}.mp4"

    rows = (pq.read_table(mix / "mixture.parquet").to_pylist()
            if (mix / "mixture.parquet").is_file() else [])
    make = exporters.RECORD[fmt]
    records = [make(r, video(r["video_id"]), reference, decimals)
               for r in tqdm(rows, desc=f"export {fmt}", unit="sample", disable=None)]
    replay = []
    if (mix / "replay.jsonl").is_file():
        for line in (mix / "replay.jsonl").read_text(encoding="utf-8").splitlines():
            converted = exporters.replay_as(fmt, json.loads(line))
            if converted is not None:
                replay.append(converted)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    everything = records + replay
    name = meta["recipe"]
    written: list[Path] = []
    header = {"export_version": exporters.EXPORT_VERSION, "render_version": RENDER_VERSION,
              "recipe": name, "seed": meta["seed"], "time_reference": reference,
              "time_unit": "seconds", "decimals": decimals}
    if fmt == "swift":
        data = target / "mixture.jsonl"
        with data.open("w", encoding="utf-8") as f:
            for rec in everything:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        written.append(data)
    else:
        data = target / f"mixture_{fmt}.json"
        data.write_text(json.dumps(everything, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(data)
    if fmt == "llava":
        spec = target / "mixture_llava.yaml"
        spec.write_text(yaml.safe_dump({
            "datasets": [{"json_path": str(data), "sampling_strategy": "all"}],
            "ominous": header}, sort_keys=False))
        written.append(spec)
    if fmt == "llamafactory":
        info = target / "dataset_info.json"
        entries = json.loads(info.read_text()) if info.is_file() else {}
        entries[f"ominous_{_slug(name)}"] = {
            "file_name": data.name, "formatting": "sharegpt",
            "columns": {"messages": "conversations", "videos": "videos"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                     "assistant_tag": "gpt"}}
        info.write_text(json.dumps(entries, indent=2))
        written.append(info)
    about = target / "export.yaml"
    about.write_text(yaml.safe_dump({**header, "format": fmt, "samples": len(records),
                                     "replay": len(replay),
                                     "files": [p.name for p in written]}, sort_keys=False))
    written.append(about)
    return ExportSummary(tuple(str(p) for p in written), len(records), len(replay))


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()
