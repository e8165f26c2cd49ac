"""SearchVideos: keyword specs -> one Source per YouTube video, with every keyword that found it.

Searches are flat (one request per keyword); results are filtered by each keyword's settings,
the blocklist is applied, duplicates across keywords merge by video id, and the run's cap
keeps the first N videos by id (a stable choice).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam

from pipeline import metrics
from pipeline.core.keywords import KeywordSpec
from pipeline.core.search import SearchHit, hits, merge_hits, search_params, search_query
from pipeline.core.ytdlp_errors import classify
from pipeline.io.ytdlp import Blocklist, DownloadFailed, clean_error
from pipeline.records import Source
from pipeline.stages.failures import apply_stage


class SearchFailed(DownloadFailed):
    """yt-dlp could not run a keyword search (offline, rate-limited, bot check, ...)."""


@dataclass(frozen=True)
class _Found:
    hit: SearchHit
    spec: KeywordSpec


def search_source(spec: KeywordSpec, attempt: int = 1) -> Source:
    return Source(
        uri=search_query(spec),
        kind="search",
        attempt=attempt,
        keywords=(spec.keyword,),
        categories=(spec.category,),
        settings=spec.settings,
    )


class _Search(beam.DoFn):
    def __init__(self, blocklist: Blocklist, extra: tuple[tuple[str, Any], ...]) -> None:
        self._blocklist = blocklist
        self._extra = dict(extra)

    def process(self, source: Source) -> Iterator[tuple[str, _Found]]:
        import yt_dlp

        spec = KeywordSpec(source.keywords[0], source.categories[0], source.settings)
        try:
            with yt_dlp.YoutubeDL(search_params(self._extra)) as ydl:
                result = ydl.extract_info(source.uri, download=False)
        except yt_dlp.utils.YoutubeDLError as exc:
            message = clean_error(str(exc))
            raise SearchFailed(message, classify(message)[0]) from exc
        kept, dropped = hits(result, spec)
        for reason, n in dropped.items():
            metrics.counter(f"search_dropped_{reason}").inc(n)
        for hit in kept:
            if self._blocklist.reason(hit.video_id, hit.channel_id):
                metrics.counter(metrics.VIDEOS_BLOCKED).inc()
                continue
            metrics.counter(metrics.SEARCH_HITS).inc()
            yield hit.video_id, _Found(hit, spec)


def _merge(keyed: tuple[str, Iterable[_Found]]) -> Source:
    video_id, found = keyed
    found = sorted(found, key=lambda f: f.hit.keyword)
    url, keywords, categories = merge_hits(video_id, (f.hit for f in found))
    return Source(
        uri=url,
        kind="url",
        keywords=keywords,
        categories=categories,
        settings=found[0].spec.settings,
    )


class SearchVideos(beam.PTransform):
    def __init__(
        self,
        blocklist: Blocklist,
        max_videos: int | None = None,
        extra: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        super().__init__()
        self._blocklist = blocklist
        self._max = max_videos
        self._extra = extra

    def expand(self, searches: beam.PCollection[Source]):
        found, failed = apply_stage(searches, "search", _Search(self._blocklist, self._extra))
        videos = found | "ByVideo" >> beam.GroupByKey() | "Merge" >> beam.Map(_merge)
        if self._max:
            videos = (
                videos
                | "Cap" >> beam.combiners.Top.Smallest(self._max, key=lambda s: s.uri)
                | "Spread" >> beam.FlatMap(lambda top: top)
            )
        return videos, failed
