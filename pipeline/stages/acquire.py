"""AcquireVideos: sources (URLs, local files) -> probed videos in the media store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import apache_beam as beam

from pipeline import metrics
from pipeline.core.splits import assign_split
from pipeline.io import media_store, pacing, probe, storage, ytdlp
from pipeline.records import MediaFile, Source, Video
from pipeline.stages.failures import apply_stage


class _Fetch(beam.DoFn):
    def __init__(
        self, media_dir: str, config: ytdlp.DownloadConfig, input_root: str | None = None
    ) -> None:
        self._media_dir = media_dir
        self._config = config
        self._input_root = input_root

    def _in_store(self, video_id: str) -> str | None:
        found = storage.glob(storage.join(self._media_dir, f"{video_id}.*"))
        return next((f for f in found if not f.endswith((".part", ".vtt", ".txt"))), None)

    def process(self, source: Source) -> Iterator[MediaFile]:
        """Files land in a local staging folder (the store itself when it is local) and are
        published to a remote store once complete."""
        staging = storage.staging_dir(self._media_dir)
        remote = storage.is_remote(self._media_dir)
        if source.kind == "file":
            media = media_store.import_local(source, staging, self._input_root)
        else:
            waited = pacing.wait_turn(staging / ".download-pace", self._config.min_interval_s)
            metrics.distribution(metrics.DOWNLOAD_WAIT_MS).update(int(waited * 1000))
            try:
                media = ytdlp.download(
                    source, staging, self._config, in_store=self._in_store if remote else None
                )
            except ytdlp.Skipped as skipped:  # blocklist or search settings: not a failure
                metrics.counter(f"videos_skipped_{skipped.reason}").inc()
                return
        if remote and not storage.is_remote(media.path):
            media = replace(media, path=storage.publish(Path(media.path), self._media_dir))
        metrics.counter(metrics.VIDEOS_ACQUIRED).inc()
        yield media


class _Probe(beam.DoFn):
    def __init__(self, val_fraction: float, test_fraction: float) -> None:
        self._val = val_fraction
        self._test = test_fraction

    def process(self, media: MediaFile) -> Iterator[Video]:
        local = storage.local_path(media.path)
        info = probe.probe(local)
        metrics.counter(metrics.VIDEOS_PROBED).inc()
        metrics.counter(metrics.AUDIO_MS).inc(info.duration_ms)
        yield Video(
            media=media,
            probe=info,
            sha256=media_store.sha256_file(local),
            split=assign_split(media.video_id, self._val, self._test),
        )


class AcquireVideos(beam.PTransform):
    """Download or import each source, then probe it; both steps send failures aside."""

    def __init__(
        self,
        media_dir: str,
        download: ytdlp.DownloadConfig,
        val_fraction: float = 0.05,
        test_fraction: float = 0.05,
        input_root: str | None = None,
    ) -> None:
        super().__init__()
        self._media_dir = media_dir
        self._input_root = input_root
        self._download = download
        self._split = (val_fraction, test_fraction)

    def expand(self, sources: beam.PCollection[Source]):
        fetched, fetch_failed = apply_stage(
            sources | "Spread" >> beam.Reshuffle(),
            "download",
            _Fetch(self._media_dir, self._download, self._input_root),
        )
        videos, probe_failed = apply_stage(fetched, "probe", _Probe(*self._split))
        return videos, (fetch_failed, probe_failed) | "Failures" >> beam.Flatten()
