"""Run-level knobs as a PipelineOptions subclass; per-stage configs are built here, once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import __version__
from pipeline.core.ytdlp import DEFAULT_FORMAT, DownloadConfig
from pipeline.models.segmenter import SegmenterConfig
from pipeline.models.whisper import AsrConfig


class AnnotateOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        add = parser.add_argument
        add("--urls", default=None, help="text file with one video URL per line")
        add("--media_dir", "--media-dir", dest="media_dir", default=None,
            help="folder of local media files")
        add("--out", default=None, help="output folder for the tables")
        add("--media_store", "--media-store", dest="media_store", default=None,
            help="where acquired media is kept (default OUT/media)")
        add("--run_id", "--run-id", dest="run_id", default=None,
            help="name of this run (default: time-based)")
        add("--force", action="store_true", default=False,
            help="re-annotate sources that are already done with the same settings")
        add("--asr_model", "--asr-model", dest="asr_model", default="auto",
            help="auto, tiny.en-offline, a faster-whisper model name or a local model folder")
        add("--asr_device", "--asr-device", dest="asr_device", default="cpu",
            choices=["cpu", "cuda"])
        add("--asr_compute_type", "--asr-compute-type", dest="asr_compute_type", default="auto")
        add("--asr_batch_size", "--asr-batch-size", dest="asr_batch_size", type=int, default=8)
        add("--asr_chunk_size", "--asr-chunk-size", dest="asr_chunk_size", type=int, default=5,
            help="VAD chunk length in seconds; short chunks give sentence-sized segments")
        add("--asr_threads", "--asr-threads", dest="asr_threads", type=int, default=2)
        add("--language", default="en")
        add("--align_model", "--align-model", dest="align_model", default="auto",
            help="auto, none (faster-whisper word timestamps) or a wav2vec2 model name/folder")
        add("--segmenter", default="auto",
            help="auto, punctuation, a SaT model name (sat-3l-sm) or a local SaT folder")
        add("--sat_tokenizer", "--sat-tokenizer", dest="sat_tokenizer", default=None)
        add("--sat_threshold", "--sat-threshold", dest="sat_threshold", type=float, default=None)
        add("--download_format", "--download-format", dest="download_format",
            default=DEFAULT_FORMAT)
        add("--download_retries", "--download-retries", dest="download_retries", type=int,
            default=3)
        add("--ytdlp_option", "--ytdlp-option", dest="ytdlp_option", action="append",
            default=[], help="KEY=JSON_VALUE passed to yt-dlp as it is (repeatable)")
        add("--val_fraction", "--val-fraction", dest="val_fraction", type=float, default=0.05)
        add("--test_fraction", "--test-fraction", dest="test_fraction", type=float, default=0.05)


@dataclass(frozen=True)
class StageConfigs:
    asr: AsrConfig
    segmenter: SegmenterConfig
    download: DownloadConfig

    def content_hash(self) -> str:
        """Hash of every setting that changes annotation content (not batch sizes or threads)."""
        asr = asdict(self.asr)
        for key in ("batch_size", "threads"):
            asr.pop(key)
        doc = {"asr": asr, "segmenter": asdict(self.segmenter), "version": __version__}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _ytdlp_extra(items: list[str]) -> tuple[tuple[str, Any], ...]:
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


def stage_configs(opts: AnnotateOptions) -> StageConfigs:
    return StageConfigs(
        asr=AsrConfig(model=opts.asr_model, device=opts.asr_device,
                      compute_type=opts.asr_compute_type, batch_size=opts.asr_batch_size,
                      chunk_size=opts.asr_chunk_size, language=opts.language,
                      align_model=opts.align_model, threads=opts.asr_threads),
        segmenter=SegmenterConfig(model=opts.segmenter, tokenizer=opts.sat_tokenizer,
                                  threshold=opts.sat_threshold),
        download=DownloadConfig(format=opts.download_format, retries=opts.download_retries,
                                extra=_ytdlp_extra(opts.ytdlp_option)),
    )
