"""Export a mixture to a trainer's format: one command, `--format`.

Media paths are resolved against `--video-root` or `--annotations` (not the path the original
annotate run recorded, which dangles once the annotations move) and must exist: a missing
file is an error that lists it, and nothing is written.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow.parquet as pq
import yaml
from tqdm import tqdm

from pipeline.core import exporters, formats
from pipeline.core.annotations import newest_by_video
from pipeline.core.exporters import Context, ExportError
from pipeline.core.formats.livecc import livecc_commentary
from pipeline.errors import listing
from pipeline.io import publish, storage
from pipeline.io.parquet import read_table, table_files
from pipeline.io.replay import read_replay, resolve_media


@dataclass(frozen=True)
class ExportSummary:
    files: tuple[str, ...]
    samples: int
    replay: int
    skipped: dict[str, int]
    video_folder: str | None = None
    added: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class VideoFacts:
    media: str
    duration_ms: int | None
    run_id: str | None = None


def _name(uri: str) -> str:
    return PurePosixPath(uri.replace("\\", "/")).name


def newest_videos(annotations: str) -> dict[str, dict[str, Any]]:
    """video_id -> its newest annotation's media, duration and provenance, as build takes it."""
    t = read_table(annotations, "videos", ["video_id", "media_uri", "duration_ms", "provenance"])
    return newest_by_video(t.to_pylist())


def resolve_videos(
    annotations: str | None, video_root: str | None, ids: set[str]
) -> dict[str, VideoFacts]:
    """video_id -> where its media is now, and its duration when the annotations say.

    With --video-root: ROOT/<the stored file name> (or ROOT/<id>.mp4 without annotations).
    With --annotations: ANNOTATIONS/media/<file name> when it is there (the annotations moved
    with their media), else the recorded path (a media store kept elsewhere)."""
    if annotations is None and video_root is None:
        raise ExportError(
            "where are the videos? pass --annotations (annotate's OUT, whose media/ and "
            "videos table say) or --video-root (the folder that holds the media files)"
        )
    if video_root is not None and "://" in video_root:
        raise ExportError(
            f"--video-root {video_root}: only a local folder is supported (the trainers' "
            "loaders open local files); copy or mount the media and pass that folder"
        )
    rows: dict[str, dict[str, Any]] = {}
    if annotations is not None:
        if not table_files(annotations, "videos"):
            raise ExportError(f"no videos table in {annotations}: pass annotate's OUT")
        rows = newest_videos(annotations)
    out = {}
    for vid in sorted(ids):
        row = rows.get(vid)
        if row is None and annotations is not None and video_root is None:
            raise ExportError(
                f"video {vid} is not in {annotations}/videos: pass the "
                "annotations the samples were built from"
            )
        name = _name(row["media_uri"]) if row else f"{vid}.mp4"
        if video_root is not None:
            media = storage.join(video_root, name)
        else:
            moved = storage.join(annotations, "media", name)
            media = moved if storage.exists(moved) else row["media_uri"]
        out[vid] = VideoFacts(
            _absolute(media),
            row["duration_ms"] if row else None,
            row["provenance"]["run_id"] if row else None,
        )
    return out


def _absolute(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


def _is_media(path: str) -> bool:
    """A file (a folder named like a media file is not one)."""
    return storage.exists(path) if "://" in path else Path(path).is_file()


def check_media_exist(videos: dict[str, VideoFacts]) -> None:
    missing = sorted(v.media for v in videos.values() if not _is_media(v.media))
    if missing:
        raise ExportError(
            f"{len(missing)} of {len(videos)} videos are missing (or not files):\n"
            f"{listing(missing)}\npass --annotations (annotate's OUT, with its media/) or "
            "--video-root (the folder that holds the media files)"
        )


def _frame_ends(videos: dict[str, VideoFacts]) -> dict[str, tuple[float, ...]]:
    """Each video's frame end times: LiveCC stream windows end on the frame whose chunk says
    the last word (formats/livecc.py: livecc_stream_end); media decord cannot read are named."""
    from pipeline.io.video import DecodeError, frame_end_times

    ends, unreadable = {}, []
    for vid, facts in sorted(videos.items()):
        try:
            ends[vid] = tuple(sorted(frame_end_times(storage.local_path(facts.media))))
        except DecodeError:
            unreadable.append(facts.media)
    if unreadable:
        raise ExportError(
            f"{len(unreadable)} videos cannot be read for their frame times (LiveCC stream "
            f"windows end on a frame):\n{listing(unreadable)}"
        )
    return ends


def _video_folder(videos: dict[str, VideoFacts]) -> str | None:
    """The folder LLaVA's --video_folder must name: the media's common parent."""
    local = [v.media for v in videos.values() if "://" not in v.media]
    if not local:
        return None
    return os.path.commonpath([os.path.dirname(m) for m in local])


def _spoken_words(
    annotations: str, videos: dict[str, VideoFacts]
) -> dict[str, list[tuple[int, int, str]]]:
    """video_id -> (start_ms, end_ms, word) of its newest annotation's sentences."""
    t = read_table(annotations, "sentences", ["video_id", "start_ms", "words", "provenance"])
    out: dict[str, list[tuple[int, int, str]]] = {v: [] for v in videos}
    for s in sorted(t.to_pylist(), key=lambda s: s["start_ms"]):
        facts = videos.get(s["video_id"])
        if facts is not None and s["provenance"]["run_id"] == facts.run_id:
            out[s["video_id"]] += [(w["start_ms"], w["end_ms"], w["text"]) for w in s["words"]]
    return out


def _frame_fps(rows: list[dict[str, Any]], fmt: str) -> float:
    rates = {Fraction(r["sample_fps_num"], r["sample_fps_den"]) for r in rows}
    if len(rates) > 1:
        raise ExportError(
            f"{fmt} needs one feature frame rate; the mixture has "
            f"{sorted(map(str, rates))}: build with one --sample-fps"
        )
    return float(rates.pop()) if rates else 2.0


def export(
    mix_dir: str,
    fmt: str,
    out: str,
    annotations: str | None = None,
    video_root: str | None = None,
    reference: str | None = None,
    decimals: int = 1,
    commentary: bool = False,
    noise_target: str = "marker",
) -> ExportSummary:
    """`commentary` (livecc): also each narration window's own speech as a LiveCC
    commentary record, from the sentences' word times in `annotations`. `noise_target`:
    `marker` (the notes' `<|im_start|><|im_end|>`) or `end` (stop's bare end token)."""
    form = formats.get(fmt)
    marker = formats.noise_marker(fmt, noise_target)
    if commentary and (fmt != "livecc" or annotations is None):
        raise ExportError(
            "--livecc-commentary needs --format livecc and --annotations (the "
            "sentences' word times)"
        )
    reference = reference or formats.default_reference(fmt)
    formats.check_reference(fmt, reference)
    mix = Path(mix_dir)
    publish.check_whole(mix, "mix")
    meta_file = mix / "mixture.yaml"
    if not meta_file.is_file():
        raise ExportError(f"{mix_dir} holds no mixture (mixture.yaml): run ominous mix first")
    meta = yaml.safe_load(meta_file.read_text())
    rows = (
        pq.read_table(mix / "mixture.parquet").to_pylist()
        if (mix / "mixture.parquet").is_file()
        else []
    )
    videos = resolve_videos(annotations, video_root, {r["video_id"] for r in rows})
    check_media_exist(videos)
    folder = _video_folder(videos) if form.video_folder else None
    fps = _frame_fps(rows, fmt) if form.frame_fps else None
    words = _spoken_words(annotations, videos) if commentary else {}
    frame_ends = _frame_ends(videos) if form.frame_ends else {}

    def context(row: dict[str, Any]) -> Context:
        facts = videos[row["video_id"]]
        media = os.path.relpath(facts.media, folder) if folder else facts.media
        ends = frame_ends.get(row["video_id"])
        return Context(media, reference, decimals, facts.duration_ms, marker, ends, fps)

    records: list[Any] = []
    skipped: Counter[str] = Counter()
    added: Counter[str] = Counter()
    for r in tqdm(rows, desc=f"export {fmt}", unit="sample", disable=None):
        ctx = context(r)
        rec = form.record(r, ctx)
        if rec is None:
            skipped[r["task"]] += 1
        elif form.splits:  # one sample, several records
            records.extend(rec)
            if len(rec) > 1:
                added["split_records"] += len(rec) - 1
        else:
            records.append(rec)
        if commentary:
            spoken = livecc_commentary(r, ctx, words[r["video_id"]])
            if spoken is not None:
                records.append(spoken)
                added["commentary"] += 1
    replay = []
    if (mix / "replay.jsonl").is_file():
        # mix writes them absolute; a MIX from before that, or edited by hand, is checked here
        replayed, missing = resolve_media(read_replay(str(mix / "replay.jsonl")), None)
        if missing:
            raise ExportError(
                f"{mix_dir}/replay.jsonl: {len(missing)} replay media paths are relative or "
                f"no file:\n{listing(missing)}\nmix again: it writes them absolute "
                "(--replay-root)"
            )
        for rec in replayed:
            converted = form.replay(rec)
            if converted is None:
                skipped["replay"] += 1
            else:
                replay.append(converted)
    everything = records + replay
    n_samples = len(records) - sum(added.values())
    name = meta["recipe"]
    header = {
        "export_version": exporters.EXPORT_VERSION,
        "recipe": name,
        "seed": meta["seed"],
        "time_reference": reference,
        "time_unit": "seconds",
        "decimals": decimals,
        "noise_target": noise_target,
    }
    target = Path(out)
    files = form.files(formats.Files(everything, name, header, folder, replay, target.resolve()))
    about = {
        **header,
        "format": fmt,
        "samples": n_samples,
        "replay": len(replay),
        "skipped": dict(sorted(skipped.items())),
        "added": dict(added),
        "video_folder": folder,
        **({"frame_fps": fps} if fps else {}),
        "files": list(files),
    }
    with publish.folder_lock(target, "export"):  # one export per folder at a time
        info = target / "dataset_info.json"
        if "dataset_info.json" in files and info.is_file():  # other mixtures exported here stay
            files["dataset_info.json"] = json.dumps(
                {**json.loads(info.read_text()), **json.loads(files["dataset_info.json"])},
                indent=2,
            )
        files["export.yaml"] = yaml.safe_dump(about, sort_keys=False)
        publish.publish(
            target, {n: publish.write_staged(target, n, text) for n, text in files.items()}
        )
    written = [target / n for n in files if n != "export.yaml"] + [target / "export.yaml"]
    return ExportSummary(
        tuple(str(p) for p in written), n_samples, len(replay), dict(skipped), folder, dict(added)
    )
