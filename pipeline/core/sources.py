"""Inputs of a run: URL lists and media folders, turned into Sources with stable ids."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict

from pipeline.core.keywords import SearchSettings
from pipeline.errors import UsageError
from pipeline.records import Source

MEDIA_SUFFIXES = frozenset(
    {
        ".mp4",
        ".mkv",
        ".webm",
        ".mov",
        ".avi",
        ".m4v",
        ".mpg",
        ".mpeg",
        ".ts",
        ".flv",
        ".m4a",
        ".mp3",
        ".wav",
        ".ogg",
        ".opus",
        ".flac",
        ".aac",
    }
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class SourceError(UsageError):
    """The run's input list itself is unusable (not one element of it)."""


def parse_url_list(text: str, where: str) -> list[Source]:
    """One URL per line; blank lines and `#` comments are skipped, duplicates kept once."""
    seen: dict[str, Source] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not _URL.match(line):
            raise SourceError(f"{where}:{lineno}: not a URL: {line!r}")
        seen.setdefault(line, Source(uri=line, kind="url"))
    return list(seen.values())


def safe_name(text: str, max_len: int = 48) -> str:
    """A file-name-safe slug: no path separators, dots, quotes or shell metacharacters."""
    slug = _UNSAFE.sub("_", text).strip("_").lstrip("-")  # never read as a command's option
    return slug[:max_len] or "video"


def short_hash(text: str, n: int = 10) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


def derived_video_id(stem: str, uri: str) -> str:
    """Id for a video that has no platform id: readable stem plus a hash of where it came from."""
    return f"{safe_name(stem)}-{short_hash(uri)}"


def youtube_id(extractor: str | None, platform_id: str | None) -> str | None:
    """YouTube's own id where the extractor is YouTube's; ids are [A-Za-z0-9_-]{11}."""
    is_youtube = bool(extractor) and extractor.lower().startswith("youtube")
    if is_youtube and platform_id and re.fullmatch(r"[A-Za-z0-9_-]{11}", platform_id):
        return platform_id
    return None


def source_to_json(source: Source) -> str:
    """A search result as one line, so the driver can plan waves over what a search found."""
    return json.dumps(asdict(source), sort_keys=True)


def source_from_json(line: str) -> Source:
    d = json.loads(line)
    settings = SearchSettings(**d["settings"]) if d["settings"] else None
    return Source(
        uri=d["uri"],
        kind=d["kind"],
        attempt=d["attempt"],
        keywords=tuple(d["keywords"]),
        categories=tuple(d["categories"]),
        settings=settings,
    )
