"""Paths that may be local or remote (gs://, s3://, anything Beam's FileSystems knows).

Outputs and the media store go through FileSystems; tools that need a real file (ffprobe,
whisperx, decord, yt-dlp) get a local copy, cached per worker process.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from pathlib import Path

from apache_beam.io.filesystems import FileSystems

_BLOCK = 1 << 22


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def join(base: str, *parts: str) -> str:
    return FileSystems.join(base, *parts) if is_remote(base) else str(Path(base, *parts))


def exists(path: str) -> bool:
    return FileSystems.exists(path) if is_remote(path) else Path(path).exists()


def glob(pattern: str) -> list[str]:
    """Matching paths, sorted; `*` stays within a folder, `**` crosses folders."""
    found = FileSystems.match([pattern])[0].metadata_list
    return sorted(m.path for m in found)


def read_text(path: str) -> str:
    if not is_remote(path):
        return Path(path).read_text(encoding="utf-8")
    with FileSystems.open(path) as f:
        return f.read().decode("utf-8")


def write_text(path: str, text: str) -> None:
    """Write whole; a local file is replaced atomically."""
    if is_remote(path):
        with FileSystems.create(path) as f:
            f.write(text.encode("utf-8"))
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def move(src: str, dst: str) -> None:
    """Rename one file (on object stores: copy, then delete; repeating it is harmless)."""
    if not is_remote(dst):
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
    FileSystems.rename([src], [dst])


def delete_tree(path: str) -> None:
    if is_remote(path):
        found = glob(path.rstrip("/") + "/**")
        if found:
            FileSystems.delete(found)
    elif Path(path).exists():
        shutil.rmtree(path)


def staging_dir(store: str) -> Path:
    """Where downloads land before a remote store gets them (the store itself when local)."""
    if not is_remote(store):
        Path(store).mkdir(parents=True, exist_ok=True)
        return Path(store)
    key = hashlib.sha1(store.encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "ominous-staging" / key
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def publish(local: Path, store: str) -> str:
    """Put a finished file into the store under its own name; the store's URI of it."""
    if not is_remote(store):
        return str(local)
    dest = FileSystems.join(store, local.name)
    if not FileSystems.exists(dest):
        with open(local, "rb") as src, FileSystems.create(dest) as out:
            shutil.copyfileobj(src, out, _BLOCK)
    return dest


def local_path(uri: str) -> str:
    """A local file with the content of `uri`: itself, or a copy cached for this process."""
    if not is_remote(uri):
        return uri
    cache = Path(tempfile.gettempdir()) / "ominous-media-cache"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{hashlib.sha1(uri.encode()).hexdigest()[:16]}-{Path(uri).name}"
    if not target.exists():
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        with FileSystems.open(uri) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, _BLOCK)
        tmp.replace(target)
    return str(target)
