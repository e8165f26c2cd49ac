"""Run-level knobs as a PipelineOptions subclass; per-stage configs are built here, once."""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any, get_type_hints

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import __version__
from pipeline.core.scenes import SceneConfig
from pipeline.core.settings import add_flags, content, from_options
from pipeline.errors import UsageError
from pipeline.io.ytdlp import DownloadConfig
from pipeline.models.clip import ClipConfig
from pipeline.models.segmenter import SegmenterConfig
from pipeline.models.vlm import VlmConfig
from pipeline.models.whisper import AsrConfig
from pipeline.stages.frames import FrameConfig
from pipeline.stages.inspect import InspectConfig


class OutputOptions(PipelineOptions):
    """--out is shared by annotate, build and run; Beam parses every options class together,
    so the flag lives in exactly one of them."""

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        parser.add_argument(
            "--out", default=None, help="output folder: annotate's tables, or build's samples"
        )
        parser.add_argument(
            "--table_shards",
            "--table-shards",
            dest="table_shards",
            type=int,
            default=1,
            help="Parquet files per table per wave (per partition "
            "in build); 0 lets the runner decide",
        )


def refuse_unknown_flags(opts: PipelineOptions) -> None:
    """A misspelt flag is a usage error naming the closest known one: Beam keeps flags it
    does not know for the runner and runs without them, so `--asr-modle tiny` would run
    with the default model. Known: every PipelineOptions class loaded, Beam's and ours."""
    known = opts.get_all_options()
    unknown = sorted(set(opts.get_all_options(retain_unknown_options=True)) - set(known))
    if not unknown:
        return
    named = []
    for name in unknown:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" (did you mean --{close[0].replace('_', '-')}?)" if close else ""
        named.append(f"--{name.replace('_', '-')}{hint}")
    raise UsageError(f"unknown option {', '.join(named)}: see --help")


class AnnotateOptions(PipelineOptions):
    """The run's own flags here; every stage's flags come from its config's fields."""

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        add = parser.add_argument
        add("--urls", default=None, help="text file with one video URL per line")
        add(
            "--keywords",
            action="append",
            default=[],
            help="keyword YAML file or folder (repeatable): search YouTube with yt-dlp",
        )
        add(
            "--max_videos",
            "--max-videos",
            dest="max_videos",
            type=int,
            default=None,
            help="cap on videos per run after keyword search (first N by URL)",
        )
        add(
            "--media_dir",
            "--media-dir",
            dest="media_dir",
            default=None,
            help="folder of local media files",
        )
        add(
            "--media_store",
            "--media-store",
            dest="media_store",
            default=None,
            help="where acquired media is kept (default OUT/media)",
        )
        add(
            "--run_id",
            "--run-id",
            dest="run_id",
            default=None,
            help="name of this run (default: time-based)",
        )
        add(
            "--wave_size",
            "--wave-size",
            dest="wave_size",
            type=int,
            default=50,
            help="sources per wave: each wave is one pipeline whose output is committed when "
            "it ends, so a killed run loses at most one wave; 0 = all in one wave",
        )
        add(
            "--force",
            action="store_true",
            default=False,
            help="re-annotate sources that are already done with the same settings",
        )
        for config in STAGE_CONFIGS.values():
            add_flags(add, config)
        add(
            "--caption_cache",
            "--caption-cache",
            dest="caption_cache",
            default=None,
            help="caption cache folder (default OUT/cache/captions); any Beam filesystem",
        )
        add("--val_fraction", "--val-fraction", dest="val_fraction", type=float, default=0.05)
        add("--test_fraction", "--test-fraction", dest="test_fraction", type=float, default=0.05)


@dataclass(frozen=True)
class StageConfigs:
    """The one registry of annotate's stage configs: a stage's config is a field here, and
    its flags, its defaults and its share of the content hash come from the config's own
    fields (core/settings.py)."""

    asr: AsrConfig
    segmenter: SegmenterConfig
    download: DownloadConfig
    frames: FrameConfig
    scenes: SceneConfig
    inspect: InspectConfig
    clip: ClipConfig
    vlm: VlmConfig

    def content_hash(self) -> str:
        """Hash of every setting that changes annotation content: the fields each config
        marks as content (not batch sizes, threads, endpoints, retries or concurrency, nor
        the curation signals, which measure the content: an OUT annotated before them keeps
        its rows, with the signals null, until --force)."""
        doc: dict[str, Any] = {name: content(getattr(self, name)) for name in STAGE_CONFIGS}
        doc["version"] = __version__
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ]

    def done_hashes(self) -> frozenset[str]:
        """The hashes under which a source counts as done with these settings."""
        return frozenset({self.content_hash()})


STAGE_CONFIGS: dict[str, type] = {
    f.name: hint for f in fields(StageConfigs) for hint in [get_type_hints(StageConfigs)[f.name]]
}


def stage_configs(opts: AnnotateOptions) -> StageConfigs:
    """Each stage's config from the parsed options, field by field (core/settings.py)."""
    return StageConfigs(**{name: from_options(cls, opts) for name, cls in STAGE_CONFIGS.items()})
