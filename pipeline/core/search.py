"""yt-dlp keyword search: the ytsearch query, flat results, filters and de-duplication."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.core.keywords import KeywordSpec, SearchSettings

SHORTS_MAX_S = 60


@dataclass(frozen=True)
class SearchHit:
    video_id: str
    url: str
    keyword: str
    category: str
    title: str | None
    channel_id: str | None
    duration_s: float | None


def search_query(spec: KeywordSpec) -> str:
    return f"ytsearch{spec.settings.results}:{spec.keyword}"


def search_params(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Flat extraction: one request per result page, no per-video requests."""
    return {
        "extract_flat": "in_playlist",
        "quiet": True,
        "no_warnings": True,
        "skip_download": True,
        **(extra or {}),
    }


def rejection(entry: dict[str, Any], settings: SearchSettings) -> str | None:
    """Why a flat search entry is dropped (None: keep). Flat entries lack license and often
    upload date; those filters are applied again to the full info at download."""
    duration = entry.get("duration")
    url = str(entry.get("url") or "")
    live = entry.get("live_status") in ("is_live", "is_upcoming", "post_live")
    if settings.exclude_live and live:
        return "live"
    if settings.exclude_shorts and (
        "/shorts/" in url or (duration is not None and duration <= SHORTS_MAX_S)
    ):
        return "short"
    if duration is not None:
        if settings.min_duration_s is not None and duration < settings.min_duration_s:
            return "too_short"
        if settings.max_duration_s is not None and duration > settings.max_duration_s:
            return "too_long"
    return None


def full_info_rejection(info: dict[str, Any], settings: SearchSettings) -> str | None:
    """The filters only a full info dict can answer: license, upload date, live, language."""
    flat = rejection(info, settings)
    if flat:
        return flat
    if (
        settings.creative_commons
        and "creative commons" not in str(info.get("license") or "").lower()
    ):
        return "not_creative_commons"
    date = info.get("upload_date")
    if date and settings.uploaded_after and date < settings.uploaded_after:
        return "uploaded_too_early"
    if date and settings.uploaded_before and date > settings.uploaded_before:
        return "uploaded_too_late"
    language = info.get("language")
    if settings.language and language and not str(language).startswith(settings.language):
        return "language"
    return None


def hits(result: dict[str, Any] | None, spec: KeywordSpec) -> tuple[list[SearchHit], dict]:
    """(kept hits, {reason: count} of dropped entries) from a flat ytsearch result."""
    kept, dropped = [], {}
    for entry in (result or {}).get("entries") or []:
        if not entry or not entry.get("id"):
            dropped["empty_entry"] = dropped.get("empty_entry", 0) + 1
            continue
        why = rejection(entry, spec.settings)
        if why:
            dropped[why] = dropped.get(why, 0) + 1
            continue
        kept.append(
            SearchHit(
                video_id=str(entry["id"]),
                url=str(entry.get("url") or f"https://www.youtube.com/watch?v={entry['id']}"),
                keyword=spec.keyword,
                category=spec.category,
                title=entry.get("title"),
                channel_id=entry.get("channel_id"),
                duration_s=entry.get("duration"),
            )
        )
    return kept, dropped


def merge_hits(
    video_id: str, found: Iterable[SearchHit]
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """One video found by several keywords: (url, keywords, categories), sorted."""
    found = list(found)
    return (
        found[0].url,
        tuple(sorted({h.keyword for h in found})),
        tuple(sorted({h.category for h in found})),
    )
