"""The annotate pipeline's wiring: sources -> acquire -> transcribe -> segment -> tables."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import apache_beam as beam
import pyarrow.compute as pc

from pipeline import __version__, metrics
from pipeline.core import rows
from pipeline.core.keywords import KeywordError, load_keywords
from pipeline.core.sources import list_media_dir, read_url_list
from pipeline.io import runs, storage
from pipeline.io.parquet import WriteTable, read_table
from pipeline.options import AnnotateOptions, OutputOptions, stage_configs
from pipeline.records import RunContext, Source
from pipeline.stages.acquire import AcquireVideos
from pipeline.stages.assemble import AssembleVideos
from pipeline.stages.caption import CaptionClips
from pipeline.stages.frames import SampleFrames
from pipeline.stages.scenes import DetectScenes
from pipeline.stages.score import ScoreClips
from pipeline.stages.search import SearchVideos, search_source
from pipeline.stages.segment import SegmentSentences
from pipeline.stages.transcribe import TranscribeSpeech

log = logging.getLogger(__name__)


class UsageError(ValueError):
    """The run was asked for something it cannot do; nothing was started."""


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    out: str
    sources: int
    skipped_done: int
    videos: int
    sentences: int
    clips: int
    failures: int
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def some_failed(self) -> bool:
        return self.failures > 0


def _sources(opts: AnnotateOptions) -> list[Source]:
    """Direct sources (URLs, files), or one search per keyword."""
    if sum(map(bool, (opts.urls, opts.media_dir, opts.keywords))) != 1:
        raise UsageError("give exactly one of --urls FILE, --media-dir DIR or --keywords FILE")
    if opts.keywords:
        try:
            return [search_source(spec) for spec in load_keywords(opts.keywords)]
        except KeywordError as exc:
            raise UsageError(str(exc)) from exc
    return read_url_list(opts.urls) if opts.urls else list_media_dir(opts.media_dir)


def _not_done(source: Source, done: frozenset[str], attempts: dict[str, int]
              ) -> Iterator[Source]:
    """Search results already annotated with these settings are skipped, failures retried."""
    if source.uri in done:
        metrics.counter(metrics.VIDEOS_SKIPPED_DONE).inc()
        return
    yield replace(source, attempt=attempts.get(source.uri, 0) + 1)


def _history(out: str, config_hash: str) -> tuple[frozenset[str], dict[str, int]]:
    """Sources done with these settings, and how often each source has failed."""
    done_table = read_table(out, "videos", ["source_uri", "provenance"])
    done = frozenset(
        uri for uri, prov in zip(done_table["source_uri"].to_pylist(),
                                 done_table["provenance"].to_pylist(), strict=True)
        if prov["config_hash"] == config_hash)
    failed = read_table(out, "failures", ["source_uri"])["source_uri"]
    counts = pc.value_counts(failed).to_pylist() if len(failed) else []
    return done, {c["values"]: c["counts"] for c in counts}


def _pending(sources: list[Source], done: frozenset[str], attempts: dict[str, int],
             force: bool) -> tuple[list[Source], int]:
    """Drop sources already annotated with the same settings; number the retries of failures."""
    pending = [replace(s, attempt=attempts.get(s.uri, 0) + 1) for s in sources
               if force or s.uri not in done]
    return pending, len(sources) - len(pending)


@dataclass(frozen=True)
class _Plan:
    """What the driver decided before the graph is built."""

    opts: AnnotateOptions
    out: str
    ctx: RunContext
    sources: list[Source]
    n_sources: int
    skipped: int
    done_uris: frozenset[str]
    attempts: dict[str, int]


def _plan(argv: list[str] | None) -> _Plan:
    opts = AnnotateOptions(argv)
    out = opts.view_as(OutputOptions).out
    if not out:
        raise UsageError("--out is required")
    configs = stage_configs(opts)
    out = out.rstrip("/") if storage.is_remote(out) else str(Path(out))
    run_id = opts.run_id or time.strftime("run-%Y%m%dT%H%M%S")
    ctx = RunContext(run_id=run_id, config_hash=configs.content_hash(),
                     pipeline_version=__version__)
    all_sources = _sources(opts)
    done_uris, attempts = _history(out, ctx.config_hash)
    sources, skipped = _pending(all_sources, done_uris, attempts, opts.force)
    log.info("%d sources, %d already done, %d to annotate", len(all_sources), skipped,
             len(sources))
    return _Plan(opts, out, ctx, sources, len(all_sources), skipped, done_uris, attempts)


def construct(p: beam.Pipeline, plan: _Plan) -> None:
    """Add the annotate graph to `p` (without running it: presets are checked this way)."""
    opts, out, ctx = plan.opts, plan.out, plan.ctx
    configs = stage_configs(opts)
    run_id = ctx.run_id
    media_dir = opts.media_store or storage.join(out, "media")
    caption_cache = opts.caption_cache or storage.join(out, "cache", "captions")
    srcs = p | "Sources" >> beam.Create(plan.sources)
    search_failed = p | "NoSearch" >> beam.Create([])
    if opts.keywords:
        found, search_failed = srcs | "SearchVideos" >> SearchVideos(
            configs.download.blocklist, opts.max_videos, configs.download.extra)
        srcs = found | "NotDone" >> beam.FlatMap(
            _not_done, frozenset() if opts.force else plan.done_uris, plan.attempts)
    videos, acquire_failed = srcs | "AcquireVideos" >> AcquireVideos(
        media_dir, configs.download, opts.val_fraction, opts.test_fraction)
    transcripts, asr_failed = videos | "TranscribeSpeech" >> TranscribeSpeech(configs.asr)
    annotated, seg_failed = transcripts | "SegmentSentences" >> SegmentSentences(
        configs.segmenter)
    sampled, frames_failed = videos | "SampleFrames" >> SampleFrames(
        configs.frames, configs.clip)
    plans, scenes_failed = sampled | "DetectScenes" >> DetectScenes(configs.scenes)
    captioned, caption_failed = (
        plans | "PlannedClips" >> beam.FlatMap(lambda video_clips: video_clips.clips)
        | "CaptionClips" >> CaptionClips(configs.vlm, caption_cache))
    complete = {"speech": annotated, "plan": plans,
                "captioned": captioned} | "AssembleVideos" >> AssembleVideos()
    done, score_failed = complete | "ScoreClips" >> ScoreClips(configs.clip)
    (done | "VideoRows" >> beam.Map(rows.video_row, ctx)
     | "WriteVideos" >> WriteTable(out, "videos", run_id))
    (done | "SentenceRows" >> beam.FlatMap(rows.sentence_rows, ctx)
     | "WriteSentences" >> WriteTable(out, "sentences", run_id))
    (done | "ClipRows" >> beam.FlatMap(rows.clip_rows, ctx)
     | "WriteClips" >> WriteTable(out, "clips", run_id))
    ((search_failed, acquire_failed, asr_failed, seg_failed, frames_failed, scenes_failed,
      caption_failed, score_failed) | "AllFailures" >> beam.Flatten()
     | "FailureRows" >> beam.Map(rows.failure_row, ctx)
     | "WriteFailures" >> WriteTable(out, "failures", run_id))


def run(argv: list[str] | None = None, test_pipeline: beam.Pipeline | None = None) -> RunSummary:
    """Build and run the annotate pipeline; tests pass a TestPipeline to drive the graph."""
    plan = _plan(argv)
    if not plan.sources:
        return RunSummary(plan.ctx.run_id, plan.out, plan.n_sources, plan.skipped, 0, 0, 0, 0)
    started = time.time()
    pipeline = test_pipeline or beam.Pipeline(options=plan.opts)
    construct(pipeline, plan)
    result = pipeline.run()
    result.wait_until_finish()
    summary = _summarize(plan.out, plan.ctx.run_id, plan.n_sources, plan.skipped)
    summary = replace(summary, counters=runs.counters(result))
    runs.write_record(plan.out, plan.ctx.run_id, "annotate", plan.opts, started, {
        "sources": summary.sources, "skipped_done": summary.skipped_done,
        "videos": summary.videos, "sentences": summary.sentences, "clips": summary.clips,
        "failures": summary.failures}, summary.counters, plan.ctx.config_hash)
    return summary


def _summarize(out: str, run_id: str, n_sources: int, skipped: int) -> RunSummary:
    def count(table: str) -> int:
        t = read_table(out, table, ["provenance"] if table != "failures" else ["run_id"])
        ids = t["run_id"] if table == "failures" else pc.struct_field(t["provenance"], "run_id")
        return pc.sum(pc.equal(ids, run_id)).as_py() or 0

    return RunSummary(run_id, out, n_sources, skipped, count("videos"), count("sentences"),
                      count("clips"), count("failures"))

