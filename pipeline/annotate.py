"""The annotate command: the wave driver (plan, run and commit one pipeline per wave of sources)
and its graph (sources -> acquire -> transcribe / frames -> scenes -> inspect -> caption -> score
-> tables)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import apache_beam as beam
import pyarrow.compute as pc

from pipeline import __version__, metrics
from pipeline.compact import finish_swap
from pipeline.core import rows
from pipeline.core.sources import (
    source_from_json,
    source_to_json,
)
from pipeline.errors import UsageError
from pipeline.io import commit, progress, runs, storage
from pipeline.io.keyword_files import load_keywords
from pipeline.io.parquet import read_table
from pipeline.io.schemas import TABLES
from pipeline.io.source_lists import list_media_dir, read_url_list
from pipeline.io.table_write import WriteTable
from pipeline.options import AnnotateOptions, OutputOptions, refuse_unknown_flags, stage_configs
from pipeline.records import RunContext, Source
from pipeline.stages.acquire import AcquireVideos
from pipeline.stages.assemble import AssembleVideos
from pipeline.stages.caption import CaptionClips
from pipeline.stages.frames import SampleFrames
from pipeline.stages.inspect import InspectKeyframes
from pipeline.stages.scenes import DetectScenes
from pipeline.stages.score import ScoreClips
from pipeline.stages.search import SearchVideos, search_source
from pipeline.stages.segment import SegmentSentences
from pipeline.stages.transcribe import TranscribeSpeech

log = logging.getLogger(__name__)

FOUND = "found"  # search results, in a search wave's staging folder


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
    if opts.keywords:  # a bad keyword file raises KeywordError, a UsageError
        return [search_source(spec) for spec in load_keywords(opts.keywords)]
    return read_url_list(opts.urls) if opts.urls else list_media_dir(opts.media_dir)


def _history(out: str, hashes: frozenset[str]) -> tuple[frozenset[str], dict[str, int]]:
    """Sources done with these settings (any of their hashes), and how often each source has
    failed."""
    done_table = read_table(out, "videos", ["source_uri", "provenance"])
    done = frozenset(
        uri
        for uri, prov in zip(
            done_table["source_uri"].to_pylist(), done_table["provenance"].to_pylist(), strict=True
        )
        if prov["config_hash"] in hashes
    )
    failed = read_table(out, "failures", ["source_uri"])["source_uri"]
    counts = pc.value_counts(failed).to_pylist() if len(failed) else []
    return done, {c["values"]: c["counts"] for c in counts}


def _pending(
    sources: list[Source], done: frozenset[str], attempts: dict[str, int], force: bool
) -> tuple[list[Source], int]:
    """Drop sources already annotated with the same settings; number the retries of failures."""
    pending = [
        replace(s, attempt=attempts.get(s.uri, 0) + 1)
        for s in sources
        if force or s.uri not in done
    ]
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
    done_hashes: frozenset[str]  # a source annotated under any of these is done


def _out(opts: AnnotateOptions) -> str:
    out = opts.view_as(OutputOptions).out
    if not out:
        raise UsageError("--out is required")
    return out.rstrip("/") if storage.is_remote(out) else str(Path(out))


def _plan(argv: list[str] | None) -> _Plan:
    opts = AnnotateOptions(argv)
    out = _out(opts)
    if opts.wave_size < 0:
        raise UsageError("--wave-size must be 0 (one wave) or more")
    configs = stage_configs(opts)
    commit.recover(out)  # what a killed run left, before reading what is done
    for table in TABLES:  # ... and a killed compact
        finish_swap(out, table)
    run_id = opts.run_id or time.strftime("run-%Y%m%dT%H%M%S")
    ctx = RunContext(
        run_id=run_id,
        config_hash=configs.content_hash(),
        pipeline_version=__version__,
        started_ms=round(time.time() * 1000),
    )
    all_sources = _sources(opts)
    done_uris, attempts = _history(out, configs.done_hashes())
    sources, skipped = _pending(all_sources, done_uris, attempts, opts.force)
    log.info("%d sources, %d already done, %d to annotate", len(all_sources), skipped, len(sources))
    return _Plan(opts, out, ctx, sources, len(all_sources), skipped, configs.done_hashes())


def construct(p: beam.Pipeline, plan: _Plan, wave: str) -> None:
    """Add one wave's annotate graph to `p` (without running it: presets are checked this
    way). Tables go to the wave's staging folder, in files named after the wave."""
    opts, out, ctx = plan.opts, plan.out, plan.ctx
    configs = stage_configs(opts)
    media_dir = opts.media_store or storage.join(out, "media")
    caption_cache = opts.caption_cache or storage.join(out, "cache", "captions")
    srcs = p | "Sources" >> beam.Create(plan.sources)
    videos, acquire_failed = srcs | "AcquireVideos" >> AcquireVideos(
        media_dir,
        configs.download,
        opts.val_fraction,
        opts.test_fraction,
        input_root=opts.media_dir,
    )
    transcripts, asr_failed = videos | "TranscribeSpeech" >> TranscribeSpeech(configs.asr)
    annotated, seg_failed = transcripts | "SegmentSentences" >> SegmentSentences(configs.segmenter)
    sampled, frames_failed = videos | "SampleFrames" >> SampleFrames(configs.frames, configs.clip)
    plans, scenes_failed = sampled | "DetectScenes" >> DetectScenes(configs.scenes)
    inspected, inspect_failed = plans | "InspectKeyframes" >> InspectKeyframes(configs.inspect)
    captioned, caption_failed = (
        inspected
        | "PlannedClips" >> beam.FlatMap(lambda video_clips: video_clips.clips)
        | "CaptionClips" >> CaptionClips(configs.vlm, caption_cache)
    )
    complete = {
        "speech": annotated,
        "plan": plans,
        "captioned": captioned,
    } | "AssembleVideos" >> AssembleVideos()
    done, score_failed = complete | "ScoreClips" >> ScoreClips(configs.clip)
    target, shards = commit.wave_dir(out, wave), opts.view_as(OutputOptions).table_shards
    (
        done
        | "VideoRows" >> beam.Map(rows.video_row, ctx)
        | "Progress" >> beam.Map(progress.video_done)
        | "WriteVideos" >> WriteTable(target, "videos", wave, shards=shards)
    )
    (
        done
        | "SentenceRows" >> beam.FlatMap(rows.sentence_rows, ctx)
        | "WriteSentences" >> WriteTable(target, "sentences", wave, shards=shards)
    )
    (
        done
        | "ClipRows" >> beam.FlatMap(rows.clip_rows, ctx)
        | "WriteClips" >> WriteTable(target, "clips", wave, shards=shards)
    )
    (
        (
            acquire_failed,
            asr_failed,
            seg_failed,
            frames_failed,
            scenes_failed,
            inspect_failed,
            caption_failed,
            score_failed,
        )
        | "AllFailures" >> beam.Flatten()
        | "FailureRows" >> beam.Map(rows.failure_row, ctx)
        | "FailureProgress" >> beam.Map(progress.source_failed)
        | "WriteFailures" >> WriteTable(target, "failures", wave, shards=shards)
    )


def construct_search(p: beam.Pipeline, plan: _Plan, wave: str) -> None:
    """Every keyword search in one pipeline, so that a video found by several keywords is
    merged and --max-videos caps the whole run; found videos go to a file the driver reads."""
    opts, ctx = plan.opts, plan.ctx
    download = stage_configs(opts).download
    stage = commit.wave_dir(plan.out, wave)
    found, failed = (
        p
        | "Searches" >> beam.Create(plan.sources)
        | "SearchVideos" >> SearchVideos(download.blocklist, opts.max_videos, download.extra)
    )
    (
        found
        | "Encode" >> beam.Map(source_to_json)
        | "WriteFound"
        >> beam.io.WriteToText(storage.join(stage, FOUND, wave), file_name_suffix=".jsonl")
    )
    (
        failed
        | "FailureRows" >> beam.Map(rows.failure_row, ctx)
        | "WriteFailures"
        >> WriteTable(stage, "failures", wave, shards=opts.view_as(OutputOptions).table_shards)
    )


def _commit(out: str, wave: str) -> dict[str, int]:
    """A wave whose pipeline has finished: mark it complete, then publish its tables."""
    stage = commit.wave_dir(out, wave)
    commit.mark_complete(stage)
    return commit.publish(stage, out)


def _search(plan: _Plan) -> tuple[_Plan, dict[str, int], dict[str, int]]:
    """Run the searches, commit their failures, and plan the found videos like a URL list."""
    wave = f"{plan.ctx.run_id}-search"
    pipeline = beam.Pipeline(options=plan.opts)
    construct_search(pipeline, plan, wave)
    result = pipeline.run()
    result.wait_until_finish()
    stage = commit.wave_dir(plan.out, wave)
    found = [
        source_from_json(line)
        for f in storage.glob(storage.join(stage, FOUND, "*.jsonl"))
        for line in storage.read_text(f).splitlines()
        if line.strip()
    ]
    written, counted = _commit(plan.out, wave), runs.counters(result)
    done, attempts = _history(plan.out, plan.done_hashes)
    sources, skipped = _pending(sorted(found, key=lambda s: s.uri), done, attempts, plan.opts.force)
    counted[metrics.VIDEOS_SKIPPED_DONE] = skipped
    log.info("searches found %d videos, %d already done", len(found), skipped)
    return replace(plan, sources=sources, skipped=skipped), written, counted


def _waves(sources: list[Source], size: int) -> list[list[Source]]:
    if not sources:
        return []
    size = size or len(sources)
    return [sources[i : i + size] for i in range(0, len(sources), size)]


def _add_counts(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    return {k: total.get(k, 0) + more.get(k, 0) for k in sorted({*total, *more})}


def _summary(plan: _Plan, written: dict[str, int], counted: dict[str, int]) -> RunSummary:
    return RunSummary(
        plan.ctx.run_id,
        plan.out,
        plan.n_sources,
        plan.skipped,
        written.get("videos", 0),
        written.get("sentences", 0),
        written.get("clips", 0),
        written.get("failures", 0),
        counted,
    )


def run(argv: list[str] | None = None, test_pipeline: beam.Pipeline | None = None) -> RunSummary:
    """Build and run the annotate pipeline, one pipeline per wave of sources, each committed
    when it ends; tests pass a TestPipeline to drive a one-wave run."""
    opts = AnnotateOptions(argv)
    refuse_unknown_flags(opts)  # before OUT is touched
    with commit.exclusive(_out(opts)):  # RunInProgress: a UsageError
        return _run(_plan(argv), test_pipeline)


def _run(plan: _Plan, test_pipeline: beam.Pipeline | None) -> RunSummary:
    started = time.time()
    written: dict[str, int] = {}
    counted: dict[str, int] = {}
    if plan.opts.keywords:
        if test_pipeline is not None:
            raise UsageError(
                "a keyword run is two pipelines (search, then annotate): "
                "drive it through cli.main, not a test pipeline"
            )
        plan, written, counted = _search(plan)
    waves = _waves(plan.sources, plan.opts.wave_size)
    if test_pipeline is not None and len(waves) > 1:
        raise UsageError(
            f"a test pipeline drives one wave, and {len(plan.sources)} sources "
            f"make {len(waves)}: raise --wave-size"
        )
    with progress.annotate_bar(len(plan.sources)):
        written, counted = _run_waves(plan, waves, test_pipeline, written, counted, started)
    if not waves and plan.opts.keywords:
        _record(plan, _summary(plan, written, counted), started, "0/0")
    return _summary(plan, written, counted)


def _run_waves(
    plan: _Plan,
    waves: list[list[Source]],
    test_pipeline: beam.Pipeline | None,
    written: dict[str, int],
    counted: dict[str, int],
    started: float,
) -> tuple[dict[str, int], dict[str, int]]:
    for i, sources in enumerate(waves):
        wave = f"{plan.ctx.run_id}-w{i:05d}"
        pipeline = test_pipeline or beam.Pipeline(options=plan.opts)
        construct(pipeline, replace(plan, sources=sources), wave)
        result = pipeline.run()
        result.wait_until_finish()
        rows_in_wave = _commit(plan.out, wave)
        written = _add_counts(written, rows_in_wave)
        counted = _add_counts(counted, runs.counters(result))
        log.info(
            "wave %d/%d committed (%d sources): %s", i + 1, len(waves), len(sources), rows_in_wave
        )
        _record(plan, _summary(plan, written, counted), started, f"{i + 1}/{len(waves)}")
    return written, counted


def _record(plan: _Plan, summary: RunSummary, started: float, waves: str) -> None:
    """Rewritten after every wave, so a killed run still says how far it got."""
    runs.write_record(
        plan.out,
        plan.ctx.run_id,
        "annotate",
        plan.opts,
        started,
        {
            "sources": summary.sources,
            "skipped_done": summary.skipped_done,
            "videos": summary.videos,
            "sentences": summary.sentences,
            "clips": summary.clips,
            "failures": summary.failures,
            "waves": waves,
        },
        summary.counters,
        plan.ctx.config_hash,
    )
