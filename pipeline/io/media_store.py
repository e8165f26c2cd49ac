"""The run's media store: one file per video, named by its id, never outside the store."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from pipeline.core.sources import derived_video_id, safe_name
from pipeline.records import MediaFile, Source


def store_path(media_dir: Path, video_id: str, suffix: str) -> Path:
    """A path inside media_dir for this id; ids and suffixes are slugged so none can escape."""
    suffix = "." + safe_name(suffix.lstrip("."), max_len=8).lower() if suffix else ""
    path = (media_dir / f"{safe_name(video_id, max_len=96)}{suffix}").resolve()
    if path.parent != media_dir.resolve():
        raise ValueError(f"refusing a media path outside the store: {path}")
    return path


def import_local(source: Source, media_dir: Path, root: str | None = None) -> MediaFile:
    """Hard-link (or copy, across file systems) a local file into the store.

    A symlink is followed only to a file inside `root` (the --media-dir): one that leads
    elsewhere would put any file the process can read into a dataset."""
    listed = Path(source.uri)
    try:
        source.uri.encode("utf-8")
    except UnicodeEncodeError:
        shown = source.uri.encode("utf-8", "backslashreplace").decode("utf-8")
        raise ValueError(
            f"file_name_not_utf8: {shown} has a name that is not UTF-8 (the bad bytes are "
            "shown as escapes), which ids and tables cannot hold: rename the file"
        ) from None
    if not listed.is_file():
        raise FileNotFoundError(f"no such media file: {listed}")
    src = listed.resolve(strict=True)
    if root is not None and not src.is_relative_to(Path(root).resolve()):
        raise PermissionError(
            f"symlink_outside: {listed} leads outside --media-dir "
            f"{root}; only links to files inside it are followed"
        )
    video_id = derived_video_id(src.stem, source.uri)
    media_dir.mkdir(parents=True, exist_ok=True)
    dest = store_path(media_dir, video_id, src.suffix)
    if not dest.exists():
        tmp = dest.with_name(dest.name + ".partial")
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    return MediaFile(source=source, video_id=video_id, path=str(dest), title=src.stem)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
