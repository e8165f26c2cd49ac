"""Run-level knobs as a PipelineOptions subclass; per-stage configs are built here, once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import __version__
from pipeline.core.prompts import PROMPTS
from pipeline.core.scenes import SceneConfig
from pipeline.io.ytdlp import DEFAULT_FORMAT, DownloadConfig, load_blocklist
from pipeline.models.clip import ClipConfig
from pipeline.models.segmenter import SegmenterConfig
from pipeline.models.vlm import DEFAULT_SERVE_COMMAND, DRY_RUN, VlmConfig
from pipeline.models.whisper import AsrConfig
from pipeline.stages.frames import FrameConfig
from pipeline.stages.inspect import InspectConfig


class OutputOptions(PipelineOptions):
    """--out is shared by annotate, build and run; Beam parses every options class together,
    so the flag lives in exactly one of them."""

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        parser.add_argument("--out", default=None,
                            help="output folder: annotate's tables, or build's samples")
        parser.add_argument("--table_shards", "--table-shards", dest="table_shards", type=int,
                            default=1, help="Parquet files per table per wave (per partition "
                                            "in build); 0 lets the runner decide")


class AnnotateOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        add = parser.add_argument
        add("--urls", default=None, help="text file with one video URL per line")
        add("--keywords", action="append", default=[],
            help="keyword YAML file or folder (repeatable): search YouTube with yt-dlp")
        add("--max_videos", "--max-videos", dest="max_videos", type=int, default=None,
            help="cap on videos per run after keyword search (first N by URL)")
        add("--blocklist", default=None,
            help="opt-out file: video:ID / channel:ID lines; never downloaded, counted")
        add("--media_dir", "--media-dir", dest="media_dir", default=None,
            help="folder of local media files")
        add("--media_store", "--media-store", dest="media_store", default=None,
            help="where acquired media is kept (default OUT/media)")
        add("--run_id", "--run-id", dest="run_id", default=None,
            help="name of this run (default: time-based)")
        add("--wave_size", "--wave-size", dest="wave_size", type=int, default=50,
            help="sources per wave: each wave is one pipeline whose output is committed when "
                 "it ends, so a killed run loses at most one wave; 0 = all in one wave")
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
        add("--asr_window_s", "--asr-window-s", dest="asr_window_s", type=float, default=600.0,
            help="without an align model, long audio is transcribed in windows of about this "
                 "many seconds (cut in pauses), which bounds the memory word timing keeps")
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
        add("--download_timeout_s", "--download-timeout-s", dest="download_timeout_s",
            type=float, default=3600.0,
            help="deadline for one source's download, retries and waits included; past it "
                 "the source is a failures row (download_timeout) and the wave goes on")
        add("--download_backoff_s", "--download-backoff-s", dest="download_backoff_s",
            type=float, default=5.0, help="first wait before retrying a transient error")
        add("--sleep_interval", "--sleep-interval", dest="sleep_interval", type=float,
            default=0.0, help="yt-dlp: seconds to sleep before each download (YouTube: 5-10)")
        add("--max_sleep_interval", "--max-sleep-interval", dest="max_sleep_interval",
            type=float, default=0.0, help="yt-dlp: upper bound of a random sleep")
        add("--download_min_interval_s", "--download-min-interval-s",
            dest="download_min_interval_s", type=float, default=0.0,
            help="at least this long between download starts, across the host's workers")
        add("--sleep_requests", "--sleep-requests", dest="sleep_requests", type=float,
            default=0.0, help="yt-dlp: seconds between the requests of one extraction")
        add("--reference_subtitles", "--reference-subtitles", dest="reference_subtitles",
            default=None, help="language (en): fetch uploaded subtitles as a reference "
                               "transcript; videos.reference_wer measures ASR against it")
        add("--cookies", default=None, help="Netscape cookies file for yt-dlp (never logged)")
        add("--proxy", default=None, help="proxy URL for yt-dlp")
        add("--no_download_archive", "--no-download-archive", dest="no_download_archive",
            action="store_true", default=False,
            help="do not keep MEDIA_STORE/download-archive.txt")
        add("--ytdlp_option", "--ytdlp-option", dest="ytdlp_option", action="append",
            default=[], help="KEY=JSON_VALUE passed to yt-dlp as it is (repeatable)")
        add("--frame_fps", "--frame-fps", dest="frame_fps", type=float, default=1.0,
            help="frames sampled per second for scene detection and keyframes")
        add("--cut_threshold", "--cut-threshold", dest="cut_threshold", type=float,
            default=0.35, help="histogram distance (0-1) that counts as a hard cut")
        add("--min_clip_ms", "--min-clip-ms", dest="min_clip_ms", type=int, default=1000)
        add("--max_clip_ms", "--max-clip-ms", dest="max_clip_ms", type=int, default=10_000)
        add("--keyframes_per_clip", "--keyframes-per-clip", dest="keyframes_per_clip",
            type=int, default=4, help="frames sent to the VLM (and scored) per clip")
        add("--inspect_keyframes", "--inspect-keyframes", dest="inspect_keyframes", type=int,
            default=1, help="keyframes per clip read for on-screen text (tesseract), faces "
                            "and a perceptual hash, the curation signals; 0 = off")
        add("--clip_model", "--clip-model", dest="clip_model", default="auto",
            help="auto, off, or an open_clip model name (ViT-B-32)")
        add("--clip_pretrained", "--clip-pretrained", dest="clip_pretrained", default="auto",
            help="auto, an open_clip pretrained tag or weights file, or none (random weights)")
        add("--clip_config", "--clip-config", dest="clip_config", default=None,
            help="JSON model config to register with open_clip before loading")
        add("--vlm_model", "--vlm-model", dest="vlm_model", default=DRY_RUN,
            help="model name the VLM server serves, or dry-run (no captions)")
        add("--vlm_base_url", "--vlm-base-url", dest="vlm_base_url",
            default="http://127.0.0.1:8000/v1", help="OpenAI-compatible API base URL")
        add("--vlm_api_key_env", "--vlm-api-key-env", dest="vlm_api_key_env",
            default="OPENAI_API_KEY", help="environment variable holding the API key")
        add("--vlm_prompt", "--vlm-prompt", dest="vlm_prompt", default="clip-caption-v1",
            choices=sorted(PROMPTS))
        add("--vlm_image_size", "--vlm-image-size", dest="vlm_image_size", type=int,
            default=448, help="long side of each frame sent, in pixels")
        add("--vlm_max_tokens", "--vlm-max-tokens", dest="vlm_max_tokens", type=int,
            default=160)
        add("--vlm_concurrency", "--vlm-concurrency", dest="vlm_concurrency", type=int,
            default=8, help="requests in flight per worker")
        add("--vlm_timeout_s", "--vlm-timeout-s", dest="vlm_timeout_s", type=float,
            default=120.0)
        add("--vlm_retries", "--vlm-retries", dest="vlm_retries", type=int, default=4)
        add("--vlm_backoff_s", "--vlm-backoff-s", dest="vlm_backoff_s", type=float,
            default=1.0)
        add("--vlm_serve", "--vlm-serve", dest="vlm_serve", action="store_true",
            default=False, help="start a local `vllm serve` on each worker and wait for it")
        add("--vlm_serve_command", "--vlm-serve-command", dest="vlm_serve_command",
            default=DEFAULT_SERVE_COMMAND)
        add("--vlm_serve_port", "--vlm-serve-port", dest="vlm_serve_port", type=int,
            default=8000)
        add("--caption_cache", "--caption-cache", dest="caption_cache", default=None,
            help="caption cache folder (default OUT/cache/captions); any Beam filesystem")
        add("--val_fraction", "--val-fraction", dest="val_fraction", type=float, default=0.05)
        add("--test_fraction", "--test-fraction", dest="test_fraction", type=float, default=0.05)


@dataclass(frozen=True)
class StageConfigs:
    asr: AsrConfig
    segmenter: SegmenterConfig
    download: DownloadConfig
    frames: FrameConfig
    scenes: SceneConfig
    clip: ClipConfig
    vlm: VlmConfig
    inspect: InspectConfig

    def content_hash(self) -> str:
        """Hash of every setting that changes annotation content (not batch sizes, threads,
        endpoints or concurrency, nor the curation signals, which measure the content: an
        OUT annotated before them keeps its rows, with the signals null, until --force)."""
        asr = asdict(self.asr)
        for key in ("batch_size", "threads", "window_s"):
            asr.pop(key)
        vlm = {k: getattr(self.vlm, k) for k in (
            "model", "prompt_id", "image_size", "jpeg_quality", "max_tokens", "temperature")}
        clip = {k: getattr(self.clip, k) for k in ("model", "pretrained")}
        doc = {"asr": asr, "segmenter": asdict(self.segmenter), "frames": asdict(self.frames),
               "scenes": asdict(self.scenes), "clip": clip, "vlm": vlm, "version": __version__}
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
                      align_model=opts.align_model, threads=opts.asr_threads,
                      window_s=opts.asr_window_s),
        segmenter=SegmenterConfig(model=opts.segmenter, tokenizer=opts.sat_tokenizer,
                                  threshold=opts.sat_threshold),
        download=DownloadConfig(
            format=opts.download_format, retries=opts.download_retries,
            backoff_s=opts.download_backoff_s, deadline_s=opts.download_timeout_s,
            sleep_interval_s=opts.sleep_interval,
            max_sleep_interval_s=opts.max_sleep_interval, sleep_requests_s=opts.sleep_requests,
            min_interval_s=opts.download_min_interval_s,
            cookies_file=opts.cookies, proxy=opts.proxy, archive=not opts.no_download_archive,
            reference_subtitles=opts.reference_subtitles,
            blocklist=load_blocklist(opts.blocklist), extra=_ytdlp_extra(opts.ytdlp_option)),
        frames=FrameConfig(fps=opts.frame_fps),
        scenes=SceneConfig(cut_threshold=opts.cut_threshold, min_clip_ms=opts.min_clip_ms,
                           max_clip_ms=opts.max_clip_ms,
                           keyframes_per_clip=opts.keyframes_per_clip),
        clip=ClipConfig(model=opts.clip_model, pretrained=opts.clip_pretrained,
                        config_file=opts.clip_config),
        vlm=VlmConfig(model=opts.vlm_model, base_url=opts.vlm_base_url,
                      api_key_env=opts.vlm_api_key_env, prompt_id=opts.vlm_prompt,
                      image_size=opts.vlm_image_size, max_tokens=opts.vlm_max_tokens,
                      concurrency=opts.vlm_concurrency, timeout_s=opts.vlm_timeout_s,
                      retries=opts.vlm_retries, backoff_s=opts.vlm_backoff_s,
                      serve=opts.vlm_serve, serve_command=opts.vlm_serve_command,
                      serve_port=opts.vlm_serve_port),
        inspect=InspectConfig(enabled=opts.inspect_keyframes > 0,
                              keyframes=max(opts.inspect_keyframes, 1)),
    )
