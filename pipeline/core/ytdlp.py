"""yt-dlp: option building, info-dict parsing and the download call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.sources import derived_video_id, youtube_id
from pipeline.records import MediaFile, Source

DEFAULT_FORMAT = "bv*[height<=720][ext=mp4]+ba[ext=m4a]/b[height<=720][ext=mp4]/b[height<=720]/b"
_ERROR_PREFIX = re.compile(r"^(ERROR:\s*)+")


class DownloadFailed(RuntimeError):
    """yt-dlp could not fetch a source; the message is yt-dlp's own reason, cleaned."""


@dataclass(frozen=True)
class DownloadConfig:
    format: str = DEFAULT_FORMAT
    retries: int = 3
    socket_timeout_s: float = 30.0
    rate_limit_bytes: int | None = None
    extra: tuple[tuple[str, Any], ...] = ()  # yt-dlp params passed through as they are

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("download retries must be >= 0")


def ydl_params(config: DownloadConfig, outtmpl: str | None = None) -> dict[str, Any]:
    """yt-dlp's YoutubeDL params for one download; `extra` wins over the defaults."""
    params: dict[str, Any] = {
        "format": config.format,
        "merge_output_format": "mp4",
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "noplaylist": True,
        "retries": config.retries,
        "fragment_retries": config.retries,
        "extractor_retries": config.retries,
        "socket_timeout": config.socket_timeout_s,
        "restrictfilenames": True,
        "overwrites": False,
        "continuedl": True,
    }
    if config.rate_limit_bytes:
        params["ratelimit"] = config.rate_limit_bytes
    if outtmpl:
        params["outtmpl"] = {"default": outtmpl}
    params.update(dict(config.extra))
    return params


def clean_error(message: str) -> str:
    return _ERROR_PREFIX.sub("", str(message)).strip()


def video_id_for(info: dict[str, Any], source_uri: str) -> str:
    """YouTube's id for YouTube videos; otherwise a readable, collision-safe derived id."""
    yt = youtube_id(info.get("extractor_key") or info.get("extractor"), info.get("id"))
    return yt or derived_video_id(str(info.get("id") or info.get("title") or "video"), source_uri)


def media_from_info(source: Source, info: dict[str, Any], path: str) -> MediaFile:
    """The metadata we keep from a yt-dlp info dict (full or flat)."""
    return MediaFile(
        source=source,
        video_id=video_id_for(info, source.uri),
        path=path,
        url=info.get("webpage_url") or info.get("original_url") or source.uri,
        extractor=str(info.get("extractor_key") or info.get("extractor") or "generic"),
        title=info.get("title"),
        channel_id=info.get("channel_id"),
        channel=info.get("channel") or info.get("uploader"),
        license=info.get("license"),
        upload_date=info.get("upload_date"),
        language=info.get("language"),
    )


def download(source: Source, media_dir: Path, config: DownloadConfig) -> MediaFile:
    """Resolve a URL, then download it as `<video_id>.<ext>` into the media store."""
    import yt_dlp

    try:
        with yt_dlp.YoutubeDL(ydl_params(config)) as ydl:
            info = ydl.extract_info(source.uri, download=False)
        if info is None:
            raise DownloadFailed(f"yt-dlp returned nothing for {source.uri}")
        if info.get("_type") == "playlist":
            raise DownloadFailed("the URL is a playlist; list its videos one per line")
        video_id = video_id_for(info, source.uri)
        template = str(media_dir / f"{video_id}.%(ext)s")
        with yt_dlp.YoutubeDL(ydl_params(config, outtmpl=template)) as ydl:
            done = ydl.process_ie_result(info, download=True)
    except yt_dlp.utils.YoutubeDLError as exc:
        raise DownloadFailed(clean_error(str(exc))) from exc
    requested = done.get("requested_downloads") or [{}]
    path = requested[0].get("filepath") or done.get("filepath")
    if not path or not Path(path).is_file():
        raise DownloadFailed(f"yt-dlp reported no downloaded file for {source.uri}")
    return media_from_info(source, done, path)
