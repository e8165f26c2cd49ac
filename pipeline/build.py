"""The build phase: videos + sentences + clips -> samples, partitioned by task. No model runs."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import apache_beam as beam
import pyarrow.compute as pc
import yaml
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.compact import check_swapped
from pipeline.core import templates
from pipeline.core.annotations import newest_by_video
from pipeline.core.curation import funnel
from pipeline.core.dataset_card import dataset_card
from pipeline.core.near_duplicates import Fingerprint, duplicate_groups
from pipeline.core.settings import add_flags, from_options
from pipeline.core.splits import SPLITS
from pipeline.core.tasks import TASKS, BuildConfig
from pipeline.errors import UsageError
from pipeline.io import commit, progress, runs, storage
from pipeline.io.parquet import (
    drop_empty_shards,
    num_rows,
    read_table,
    table_dir,
    table_files,
)
from pipeline.io.policy import load_policy
from pipeline.io.table_write import WriteTable
from pipeline.options import AnnotateOptions, OutputOptions, refuse_unknown_flags
from pipeline.stages.build_samples import FILTERED, BuildSamples, rejection_row


class BuildOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        add = parser.add_argument
        add("--annotations", default=None, help="annotate's OUT (default: --out)")
        add_flags(add, BuildConfig)
        add(
            "--split_by",
            "--split-by",
            dest="split_by",
            default="video",
            choices=["video", "channel"],
        )
        add(
            "--keep_flagged",
            "--keep-flagged",
            dest="keep_flagged",
            action="store_true",
            default=False,
            help="keep samples with quality flags instead of filtering them",
        )
        add(
            "--policy",
            default="default",
            help="curation policy: default (workflows/curation/default.yaml), none, or a "
            "YAML file; every removal is counted and written to SAMPLES/rejections/",
        )
        add(
            "--overwrite",
            action="store_true",
            default=False,
            help="replace an existing samples table in --out",
        )
        add("--build_run_id", "--build-run-id", dest="build_run_id", default=None)


@dataclass(frozen=True)
class BuildSummary:
    run_id: str
    out: str
    videos: int
    samples: dict[str, int]
    filtered: dict[str, int]
    counters: dict[str, int] = field(default_factory=dict)


class BuildError(UsageError):
    """Nothing was built: the inputs or the options do not allow it."""


def build_config(opts: BuildOptions) -> BuildConfig:
    return from_options(BuildConfig, opts)


def _fractions(opts: BuildOptions) -> tuple[float, float]:
    """--val-fraction and --test-fraction (annotate's flags), which --split-by channel uses
    to split by channel as annotate splits by video."""
    annotate = opts.view_as(AnnotateOptions)
    val, test = annotate.val_fraction, annotate.test_fraction
    if val < 0 or test < 0 or val + test >= 1:
        raise BuildError("--val-fraction and --test-fraction must be >= 0 and leave room for train")
    return val, test


def _config_hash(config: BuildConfig, opts: BuildOptions) -> str:
    doc = {
        **asdict(config),
        "sample_fps": str(config.sample_fps),
        "split_by": opts.split_by,
        **({"fractions": list(_fractions(opts))} if opts.split_by == "channel" else {}),
        "keep_flagged": opts.keep_flagged,
        "generator": templates.GENERATOR_VERSION,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _read(p: beam.Pipeline, annotations: str, table: str) -> beam.PCollection:
    if not table_files(annotations, table):
        return p | f"No{table.title()}" >> beam.Create([])
    pattern = f"{table_dir(annotations, table)}/*.parquet"
    return p | f"Read{table.title()}" >> beam.io.ReadFromParquet(pattern)


def _newest_videos(annotations: str) -> list[dict[str, Any]]:
    """Each video's newest annotation row (as build takes it), with what curation reads."""
    columns = [
        "video_id",
        "duration_ms",
        "height",
        "frame_hashes",
        "transcript_fingerprint",
        "provenance",
    ]
    return list(newest_by_video(read_table(annotations, "videos", columns).to_pylist()).values())


def _filtered(counted: dict[str, int]) -> dict[str, int]:
    """Samples left out per quality flag, from the run's `filtered_<flag>` counters."""
    prefix = f"{FILTERED}_"
    return {k[len(prefix) :]: v for k, v in counted.items() if k.startswith(prefix)}


def run(argv: list[str] | None = None, test_pipeline: beam.Pipeline | None = None) -> BuildSummary:
    """Build into SAMPLES/_build_staging/<run>/, then replace SAMPLES' samples table whole: a build
    that fails or is killed leaves the previous samples as they were."""
    opts = BuildOptions(argv)
    refuse_unknown_flags(opts)
    out = opts.view_as(OutputOptions).out
    if not out:
        raise BuildError("--out is required")
    annotations = opts.annotations or out
    if not table_files(annotations, "videos"):
        raise BuildError(f"no videos table in {annotations}: run annotate first")
    check_swapped(annotations, ("videos", "sentences", "clips"))  # a compact killed mid-swap
    for table in ("videos", "sentences", "clips"):  # name a damaged file before Beam trips
        for shard in table_files(annotations, table):
            try:
                num_rows(shard)
            except (OSError, ValueError) as exc:
                raise BuildError(
                    f"{shard} is not a readable Parquet file ({exc}); run "
                    f"ominous validate {annotations}, and remove or restore "
                    "it"
                ) from exc
    with commit.exclusive(out):  # RunInProgress: a UsageError
        commit.recover_build(out)
        return _build(opts, out, annotations, test_pipeline)


def _build(
    opts: BuildOptions, out: str, annotations: str, test_pipeline: beam.Pipeline | None
) -> BuildSummary:
    if table_files(out, "samples") and not opts.overwrite:
        raise BuildError(
            f"{table_dir(out, 'samples')} already holds samples; pass "
            "--overwrite to replace them, or build into another --out"
        )
    config = build_config(opts)
    policy = load_policy(opts.policy)  # PolicyError: a UsageError, as BuildError is
    videos_in = _newest_videos(annotations)
    duplicates = duplicate_groups(
        [
            Fingerprint(
                v["video_id"],
                v["duration_ms"],
                v["height"],
                tuple(v["frame_hashes"] or ()),
                v["transcript_fingerprint"],
            )
            for v in videos_in
        ],
        policy,
    )
    run_id = opts.build_run_id or time.strftime("build-%Y%m%dT%H%M%S")
    stage = commit.build_stage(out, run_id)
    storage.delete_tree(stage)
    pipeline = test_pipeline or beam.Pipeline(options=opts)
    tables = {t: _read(pipeline, annotations, t) for t in ("videos", "sentences", "clips")}
    rows, flagged, rejected = tables | "BuildSamples" >> BuildSamples(
        config,
        opts.keep_flagged,
        run_id,
        _config_hash(config, opts),
        opts.split_by,
        _fractions(opts),
        policy=policy,
        duplicates=duplicates,
    )
    (
        (rejected, flagged)
        | "AllRemovals" >> beam.Flatten()
        | "RejectionRows" >> beam.Map(rejection_row, policy.name, run_id)
        | "WriteRejections" >> WriteTable(stage, "rejections", run_id, shards=1)
    )
    # Hive partitions task=/split=: mixing reads one split of a few tasks, and DuckDB
    # skips the other folders without opening them.
    partitions = [(task, split) for task in TASKS for split in SPLITS]
    parts = rows | "ByTaskSplit" >> beam.Partition(
        lambda r, n: partitions.index((r["task"], r["split"])), len(partitions)
    )
    shards = opts.view_as(OutputOptions).table_shards
    for (task, split), part in zip(partitions, parts, strict=True):
        part | f"Write_{task}_{split}" >> WriteTable(
            stage, "samples", run_id, f"task={task}/split={split}", shards
        )
    started = time.time()
    with progress.annotate_bar(len(videos_in), desc="build"):
        result = pipeline.run()
        result.wait_until_finish()
    counted = runs.counters(result)
    drop_empty_shards(stage, "samples")
    drop_empty_shards(stage, "rejections")
    written = read_table(stage, "samples", ["task", "split", "video_id"])
    counts = {r["values"]: r["counts"] for r in pc.value_counts(written["task"]).to_pylist()}
    summary = BuildSummary(
        run_id,
        out,
        len(pc.unique(written["video_id"])),
        {t: counts.get(t, 0) for t in TASKS},
        _filtered(counted),
        counted,
    )
    held = {
        (r["task"], r["split"])
        for r in written.select(["task", "split"])
        .group_by(["task", "split"])
        .aggregate([])
        .to_pylist()
    }
    storage.write_text(
        storage.join(stage, "README.md"),
        dataset_card({t: tuple(s for s in SPLITS if (t, s) in held) for t in TASKS}, run_id),
    )
    storage.write_text(
        storage.join(stage, "build.yaml"),
        yaml.safe_dump(
            {
                "run_id": run_id,
                "annotations": annotations,
                "config": {**asdict(config), "sample_fps": str(config.sample_fps)},
                "config_hash": _config_hash(config, opts),
                "videos": summary.videos,
                "samples": summary.samples,
                "filtered": summary.filtered,
                "curation": funnel(
                    videos_in,
                    set(pc.unique(written["video_id"]).to_pylist()),
                    read_table(stage, "rejections").to_pylist(),
                    counted,
                    policy.name,
                ),
            },
            sort_keys=False,
        ),
    )
    commit.mark_complete(stage)
    commit.publish_build(stage, out, run_id)
    runs.write_record(
        out,
        run_id,
        "build",
        opts,
        started,
        {"videos": summary.videos, "samples": summary.samples, "filtered": summary.filtered},
        counted,
        _config_hash(config, opts),
    )
    return summary
