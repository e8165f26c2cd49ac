"""yt-dlp: option building, info-dict parsing and the download call."""

from __future__ import annotations

import json
import logging
import operator
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.core.backoff import backoff_s
from pipeline.core.search import full_info_rejection
from pipeline.core.settings import Flag, setting
from pipeline.core.sources import derived_video_id, youtube_id
from pipeline.core.subtitles import vtt_text
from pipeline.core.ytdlp_errors import classify
from pipeline.errors import UsageError
from pipeline.records import MediaFile, Source

log = logging.getLogger(__name__)
ARCHIVE = "download-archive.txt"

DEFAULT_FORMAT = "bv*[height<=720][ext=mp4]+ba[ext=m4a]/b[height<=720][ext=mp4]/b[height<=720]/b"
_ERROR_PREFIX = re.compile(r"^(ERROR:\s*)+")


class DownloadFailed(RuntimeError):
    """yt-dlp could not fetch a source. The message starts with a reason word (bot_check,
    private, http_429, ...) followed by yt-dlp's own words, cleaned."""

    def __init__(self, message: str, reason: str = "other", attempts: int = 1) -> None:
        super().__init__(message if message.startswith(f"{reason}:") else f"{reason}: {message}")
        self.reason = reason
        self.attempts = attempts


class Skipped(DownloadFailed):
    """Not downloaded on purpose: on the blocklist, or outside the search settings."""


@dataclass(frozen=True)
class Blocklist:
    videos: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    def reason(self, video_id: str | None, channel_id: str | None) -> str | None:
        if video_id and video_id in self.videos:
            return f"video {video_id} is on the blocklist"
        if channel_id and channel_id in self.channels:
            return f"channel {channel_id} is on the blocklist"
        return None


def load_blocklist(path: str | None) -> Blocklist:
    """Lines `video:ID`, `channel:ID`, or a bare id (channel ids start with UC); # comments."""
    if not path:
        return Blocklist()
    videos, channels = set(), set()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read blocklist {path}: {exc}") from exc
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, sep, value = line.partition(":")
        if sep and kind in ("video", "channel"):
            (videos if kind == "video" else channels).add(value.strip())
        elif line.startswith("UC") and len(line) == 24:
            channels.add(line)
        else:
            videos.add(line)
    return Blocklist(frozenset(videos), frozenset(channels))


def ytdlp_extra(items: list[str]) -> tuple[tuple[str, Any], ...]:
    """--ytdlp-option KEY=JSON_VALUE items as yt-dlp params (a value that is not JSON is
    taken as a string)."""
    extra = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--ytdlp-option needs KEY=JSON_VALUE, got {item!r}")
        try:
            extra.append((key, json.loads(value)))
        except json.JSONDecodeError:
            extra.append((key, value))
    return tuple(extra)


@dataclass(frozen=True)
class DownloadConfig:
    """`retries` and the backoff are ours, for transient errors only (yt-dlp's own request
    retries are off so every attempt is counted); fragment retries stay with yt-dlp. What
    changes the media (the format, options passed to yt-dlp as they are) and the reference
    subtitles enter the content hash; how and whether a video is fetched does not."""

    format: str = setting(DEFAULT_FORMAT, flag=Flag("download-format"))
    retries: int = setting(3, flag=Flag("download-retries"), content=False)
    backoff_s: float = setting(
        5.0,
        flag=Flag("download-backoff-s", "first wait before retrying a transient error"),
        content=False,
    )
    max_backoff_s: float = setting(300.0, content=False)
    socket_timeout_s: float = setting(30.0, content=False)
    deadline_s: float | None = setting(
        3600.0,
        flag=Flag(  # every attempt and wait included
            "download-timeout-s",
            "deadline for one source's download, retries and waits "
            "included; past it the source is a failures row (download_timeout) and the wave goes "
            "on",
        ),
        content=False,
    )
    rate_limit_bytes: int | None = setting(None, content=False)
    sleep_interval_s: float = setting(
        0.0,
        flag=Flag(
            "sleep-interval", "yt-dlp: seconds to sleep before each download (YouTube: 5-10)"
        ),
        content=False,
    )
    max_sleep_interval_s: float = setting(
        0.0, flag=Flag("max-sleep-interval", "yt-dlp: upper bound of a random sleep"), content=False
    )
    sleep_requests_s: float = setting(
        0.0,
        flag=Flag("sleep-requests", "yt-dlp: seconds between the requests of one extraction"),
        content=False,
    )
    min_interval_s: float = setting(
        0.0,
        flag=Flag(
            "download-min-interval-s",
            "at least this long between download starts, across the host's workers",
        ),
        content=False,
    )
    cookies_file: str | None = setting(
        None, flag=Flag("cookies", "Netscape cookies file for yt-dlp (never logged)"), content=False
    )
    proxy: str | None = setting(None, flag=Flag("proxy", "proxy URL for yt-dlp"), content=False)
    archive: bool = setting(
        True,
        flag=Flag(
            "no-download-archive",
            "do not keep MEDIA_STORE/download-archive.txt",
            switch=True,
            parse=operator.not_,
        ),
        content=False,
    )
    reference_subtitles: str | None = setting(
        None,
        flag=Flag(  # e.g. "en"
            "reference-subtitles",
            "language (en): fetch uploaded subtitles as a reference "
            "transcript; videos.reference_wer measures ASR against it",
        ),
    )
    blocklist: Blocklist = setting(  # noqa: RUF009
        default_factory=Blocklist,
        flag=Flag(
            "blocklist",
            "opt-out file: video:ID / channel:ID lines; never downloaded, counted",
            parse=load_blocklist,
            default=None,
        ),
        content=False,
    )
    extra: tuple[tuple[str, Any], ...] = setting(
        (),
        flag=Flag(  # passed through as they are
            "ytdlp-option",
            "KEY=JSON_VALUE passed to yt-dlp as it is (repeatable)",
            repeat=True,
            parse=ytdlp_extra,
        ),
    )

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("download retries must be >= 0")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise ValueError("the download deadline must be positive (or None for none)")

    def __repr__(self) -> str:  # the cookie file's path is fine, never its contents
        return f"DownloadConfig(format={self.format!r}, retries={self.retries})"


def ydl_params(config: DownloadConfig, outtmpl: str | None = None) -> dict[str, Any]:
    """yt-dlp's YoutubeDL params for one download; `extra` wins over the defaults."""
    params: dict[str, Any] = {
        "format": config.format,
        "merge_output_format": "mp4",
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "noplaylist": True,
        "retries": 0,
        "extractor_retries": 0,
        "fragment_retries": config.retries,
        "socket_timeout": config.socket_timeout_s,
        "restrictfilenames": True,
        "overwrites": False,
        "continuedl": True,
    }
    if config.rate_limit_bytes:
        params["ratelimit"] = config.rate_limit_bytes
    if config.sleep_interval_s:
        params["sleep_interval"] = config.sleep_interval_s
        params["max_sleep_interval"] = max(config.max_sleep_interval_s, config.sleep_interval_s)
    if config.sleep_requests_s:
        params["sleep_interval_requests"] = config.sleep_requests_s
    if config.cookies_file:
        params["cookiefile"] = config.cookies_file
    if config.proxy:
        params["proxy"] = config.proxy
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
        duration_s=info.get("duration"),
        view_count=info.get("view_count"),
        tags=tuple(info.get("tags") or ()),
        platform_categories=tuple(info.get("categories") or ()),
        manual_subtitles=tuple(sorted(info.get("subtitles") or {})),
        auto_subtitles=tuple(sorted(info.get("automatic_captions") or {})),
    )


def _existing(media_dir: Path, video_id: str) -> Path | None:
    """A finished earlier download of this video (never a .part or a temp file)."""
    for p in sorted(media_dir.glob(f"{video_id}.*")):
        if p.suffix not in (".part", ".ytdl", ".tmp", ".json", ".vtt", ".srt") and not any(
            x.startswith(".f") for x in p.suffixes[:-1]
        ):
            return p
    return None


def _fetch_once(
    source: Source,
    media_dir: Path,
    config: DownloadConfig,
    in_store: Callable[[str], str | None] | None,
    cancel: threading.Event | None = None,
) -> MediaFile:
    import yt_dlp

    def stop_when_cancelled(_status: dict[str, Any]) -> None:
        if cancel is not None and cancel.is_set():
            raise yt_dlp.utils.DownloadCancelled("the download's deadline passed")

    with yt_dlp.YoutubeDL(ydl_params(config)) as ydl:
        info = ydl.extract_info(source.uri, download=False)
    if info is None:
        raise DownloadFailed(f"yt-dlp returned nothing for {source.uri}")
    if info.get("_type") == "playlist":
        raise DownloadFailed("the URL is a playlist; list its videos one per line")
    video_id = video_id_for(info, source.uri)
    blocked = config.blocklist.reason(info.get("id"), info.get("channel_id"))
    if blocked:
        raise Skipped(blocked, "blocked")
    if source.settings is not None:
        why = full_info_rejection(info, source.settings)
        if why:
            raise Skipped(f"outside the search settings ({why})", "filtered")
    done_before = in_store(video_id) if in_store else _existing(media_dir, video_id)
    if done_before is not None:
        return media_from_info(source, info, str(done_before))
    params = ydl_params(config, outtmpl=str(media_dir / f"{video_id}.%(ext)s"))
    params["progress_hooks"] = [stop_when_cancelled]
    if config.archive:
        params["download_archive"] = str(media_dir / ARCHIVE)
    subtitle_lang = _manual_subtitle_lang(info, config.reference_subtitles)
    if subtitle_lang:
        params.update(
            writesubtitles=True,
            writeautomaticsub=False,
            subtitleslangs=[subtitle_lang],
            subtitlesformat="vtt",
        )
    with yt_dlp.YoutubeDL(params) as ydl:
        done = ydl.process_ie_result(info, download=True)
    requested = (done or {}).get("requested_downloads") or [{}]
    path = requested[0].get("filepath") or (done or {}).get("filepath")
    if not path or not Path(path).is_file():
        found = _existing(media_dir, video_id)
        if found is None:
            raise DownloadFailed(
                f"{video_id} is in the download archive ({ARCHIVE}) but not in "
                "the media store: remove its line to fetch it again",
                "archived_missing",
            )
        path = str(found)
    media = media_from_info(source, done or info, path)
    vtt = media_dir / f"{video_id}.{subtitle_lang}.vtt"
    if subtitle_lang and vtt.is_file():
        media = replace(media, reference_text=vtt_text(vtt.read_text(encoding="utf-8")))
    return media


def _manual_subtitle_lang(info: dict[str, Any], wanted: str | None) -> str | None:
    """The uploaded (not automatic) subtitle track for a language, e.g. en or en-US."""
    if not wanted:
        return None
    langs = sorted(info.get("subtitles") or {})
    exact = [x for x in langs if x == wanted]
    return (exact or [x for x in langs if x.startswith(f"{wanted}-")] or [None])[0]


def _within(seconds: float, fetch: Callable[..., MediaFile], *args: Any) -> MediaFile:
    """Run one attempt with a deadline. yt-dlp has none of its own (its socket timeout bounds
    each read, and a server that drips a byte a second never trips it): past the deadline the
    attempt is abandoned and told to stop at its next block, so the wave goes on."""
    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["media"] = fetch(*args, cancel=cancel)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread as it was
            outcome["error"] = exc

    worker = threading.Thread(target=attempt, name="download", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        cancel.set()
        raise TimeoutError
    if "error" in outcome:
        raise outcome["error"]
    return outcome["media"]


def download(
    source: Source,
    media_dir: Path,
    config: DownloadConfig,
    sleep: Callable[[float], None] = time.sleep,
    in_store: Callable[[str], str | None] | None = None,
) -> MediaFile:
    """Resolve a URL, then download it as `<video_id>.<ext>` into `media_dir`; transient
    errors are retried with exponential backoff, permanent ones fail at once, and the whole
    of it (attempts and waits) ends at `config.deadline_s`. `in_store` finds an earlier
    download in a remote store (default: look in media_dir)."""
    import yt_dlp

    started = time.monotonic()

    def left() -> float:
        return (
            config.deadline_s - (time.monotonic() - started)
            if config.deadline_s is not None
            else float("inf")
        )

    for attempt in range(config.retries + 1):
        try:
            if config.deadline_s is None:
                return _fetch_once(source, media_dir, config, in_store)
            return _within(max(left(), 0.0), _fetch_once, source, media_dir, config, in_store)
        except TimeoutError as exc:
            raise DownloadFailed(
                f"no complete download within the {config.deadline_s:g} s "
                "deadline (--download-timeout-s)",
                "download_timeout",
                attempt + 1,
            ) from exc
        except yt_dlp.utils.YoutubeDLError as exc:
            message = clean_error(str(exc))
            reason, transient = classify(message)
            if not transient or attempt == config.retries:
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                raise DownloadFailed(message + tries, reason, attempt + 1) from exc
            wait = backoff_s(attempt, config.backoff_s, config.max_backoff_s)
            if wait >= left():
                raise DownloadFailed(
                    f"{message} (no time left for a retry within the "
                    f"{config.deadline_s:g} s deadline)",
                    reason,
                    attempt + 1,
                ) from exc
            log.info("download %s: %s, retrying in %.1f s", source.uri, reason, wait)
            sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")
