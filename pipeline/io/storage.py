"""Paths that may be local or remote (gs://, s3://, anything Beam's FileSystems knows).

Remote outputs and media stores go through Beam's FileSystems; local paths through the
standard library, so that commands on local folders (query, validate, mix, export, report)
never import Beam. Tools that need a real file (ffprobe, whisperx, decord, yt-dlp) get a local
copy, cached per worker process.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

_BLOCK = 1 << 22


def filesystems() -> Any:
    """Beam's FileSystems, imported only where a remote path needs it (Beam takes 0.6 s)."""
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def join(base: str, *parts: str) -> str:
    return filesystems().join(base, *parts) if is_remote(base) else str(Path(base, *parts))


def exists(path: str) -> bool:
    return filesystems().exists(path) if is_remote(path) else Path(path).exists()


def _pattern(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob(pattern: str) -> list[str]:
    """Matching files, sorted; `*` stays within a folder, `**` crosses folders (as Beam's
    FileSystems.match, which remote paths use)."""
    if is_remote(pattern):
        found = filesystems().match([pattern])[0].metadata_list
        return sorted(m.path for m in found)
    wild = min((pattern.find(c) for c in "*?[" if c in pattern), default=len(pattern))
    base = pattern[:wild].rsplit("/", 1)[0] or "/"
    if not os.path.isdir(base):
        return [pattern] if wild == len(pattern) and os.path.isfile(pattern) else []
    rx = _pattern(pattern)
    return sorted(
        path
        for root, _, files in os.walk(base)
        for path in (os.path.join(root, f) for f in files)
        if rx.match(path)
    )


def delete_files(paths: list[str]) -> None:
    local = [p for p in paths if not is_remote(p)]
    for path in local:
        Path(path).unlink(missing_ok=True)
    remote = [p for p in paths if is_remote(p)]
    if remote:
        filesystems().delete(remote)


def read_text(path: str) -> str:
    if not is_remote(path):
        return Path(path).read_text(encoding="utf-8")
    with filesystems().open(path) as f:
        return f.read().decode("utf-8")


def write_text(path: str, text: str) -> None:
    """Write whole; a local file is replaced atomically."""
    if is_remote(path):
        with filesystems().create(path) as f:
            f.write(text.encode("utf-8"))
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def move(src: str, dst: str) -> None:
    """Rename one file (on object stores: copy, then delete; repeating it is harmless)."""
    if not is_remote(dst) and not is_remote(src):
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        return
    filesystems().rename([src], [dst])


def delete_tree(path: str) -> None:
    if is_remote(path):
        found = glob(path.rstrip("/") + "/**")
        if found:
            filesystems().delete(found)
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
    fs = filesystems()
    dest = fs.join(store, local.name)
    if not fs.exists(dest):
        with open(local, "rb") as src, fs.create(dest) as out:
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
        with filesystems().open(uri) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, _BLOCK)
        tmp.replace(target)
    return str(target)
