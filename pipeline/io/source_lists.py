"""Where annotate's sources come from on disk: a URL list file, or a folder of media."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.sources import MEDIA_SUFFIXES, Source, SourceError, parse_url_list


def read_url_list(path: str | Path) -> list[Source]:
    """One URL per line; blank lines and `#` comments are skipped, duplicates kept once."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"URL list {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"URL list {path} is not UTF-8 text: {exc}") from exc
    return parse_url_list(text, str(path))


def list_media_dir(path: str | Path) -> list[Source]:
    """Every file with a media suffix below `path`, in a stable order."""
    root = Path(path)
    if not root.is_dir():
        raise SourceError(f"media folder {root} does not exist")
    base = root.resolve()
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
    # the path as listed, inside the folder: a symlink is resolved (and refused when it leads
    # outside) where the file is imported, so a refusal is a failures row, not a silent skip
    return [Source(uri=str(base / p.relative_to(root)), kind="file") for p in files]
