"""CaptionClips: keyframes of each clip -> a caption from the VLM, with a cache in front.

Clips arrive in batches of at least twice the concurrency; each batch is sent through the
worker's one request pool (at most `concurrency` requests in flight per worker however many
bundles run), and its captions are emitted as they finish, requests staying in flight across
batches until the bundle ends. A clip that gets no
caption becomes a failures row with the reason; the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import replace
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from pipeline import metrics
from pipeline.core.captions import CaptionError
from pipeline.io import storage
from pipeline.io.cache import JsonCache, cache_key
from pipeline.io.video import DecodeError, FrameReader, jpeg_bytes
from pipeline.models.vlm import (
    Answer,
    CaptionerHandler,
    ChatCaptioner,
    DryRunCaptioner,
    VlmConfig,
)
from pipeline.records import Clip, Failure
from pipeline.stages.failures import from_exception, to_failure
from pipeline.stages.loaded import ModelDoFn

FAILED = "failed"


def clip_cache_key(clip: Clip, config: VlmConfig, prompt_hash: str) -> str:
    """(clip content, model, prompt hash, image settings): what decides the caption."""
    return cache_key(
        clip.clip_id,
        clip.video.sha256,
        clip.start_ms,
        clip.end_ms,
        clip.keyframe_ms,
        config.model,
        prompt_hash,
        config.image_size,
        config.jpeg_quality,
        config.max_tokens,
        config.temperature,
    )


def keyframe_jpegs(clip: Clip, reader: FrameReader, config: VlmConfig) -> list[bytes]:
    indices = [reader.index_at(t) for t in clip.keyframe_ms]
    return [jpeg_bytes(f, config.jpeg_quality) for f in reader.frames(indices)]


class _Caption(ModelDoFn[ChatCaptioner | DryRunCaptioner]):
    """Keyframes are decoded here, one reader per video and batch, while earlier requests are
    already in flight on the worker's pool (one client per worker: CaptionerHandler)."""

    def __init__(self, config: VlmConfig, cache_dir: str | None) -> None:
        super().__init__(CaptionerHandler(config))
        self._config = config
        self._cache_dir = cache_dir
        self._cache: JsonCache | None = None

    def setup(self) -> None:
        super().setup()
        self._captioner: Any = self.model()
        if self._cache_dir and not self._config.dry_run:
            self._cache = JsonCache(self._cache_dir)

    def _ask(self, clip: Clip, key: str, jpegs: list[bytes]) -> Answer:
        answer = self._captioner.caption(jpegs)
        if self._cache is not None:
            self._cache.put(
                key,
                {
                    "caption": answer.text,
                    "model": self._config.model,
                    "prompt_id": self._config.prompt_id,
                    "clip_id": clip.clip_id,
                },
            )
        return answer

    def _submit(self, clip: Clip, key: str, readers: dict[str, FrameReader]) -> Future[Answer]:
        path = storage.local_path(clip.video.media.path)
        if path not in readers:
            readers[path] = FrameReader(path, self._config.image_size)
        jpegs = keyframe_jpegs(clip, readers[path], self._config)
        return self._captioner.pool.submit(self._ask, clip, key, jpegs)

    def start_bundle(self) -> None:
        self._pending: list[tuple[Clip, Future[Answer] | str | Exception]] = []

    def process(self, batch: list[Clip]) -> Iterator[Any]:
        """Submit the batch and emit whatever has finished, from this batch or earlier ones:
        requests stay in flight across batches, so the pool never drains while a batch
        waits for its slowest request. At most 4 x concurrency requests wait."""
        prompt = self._captioner.prompt
        readers: dict[str, FrameReader] = {}
        for clip in batch:
            key = clip_cache_key(clip, self._config, prompt.hash)
            hit = self._cache.get(key) if self._cache is not None else None
            if hit is not None:
                metrics.counter(metrics.CAPTIONS_CACHED).inc()
                self._pending.append((clip, hit["caption"]))
            elif self._config.dry_run:
                self._pending.append((clip, self._captioner.caption(()).text))
            else:
                try:
                    self._pending.append((clip, self._submit(clip, key, readers)))
                except DecodeError as exc:
                    self._pending.append((clip, exc))
        readers.clear()
        limit = 4 * self._config.concurrency
        while sum(isinstance(o, Future) for _, o in self._pending) > limit:
            wait(
                [o for _, o in self._pending if isinstance(o, Future)], return_when=FIRST_COMPLETED
            )
            yield from self._ready()
        yield from self._ready()

    def finish_bundle(self) -> Iterator[Any]:
        wait([o for _, o in self._pending if isinstance(o, Future)])
        for out in self._ready():
            if isinstance(out, beam.pvalue.TaggedOutput):
                yield beam.pvalue.TaggedOutput(out.tag, GlobalWindows.windowed_value(out.value))
            else:
                yield GlobalWindows.windowed_value(out)

    def _ready(self) -> Iterator[Any]:
        """Outputs for every clip whose caption is settled; the rest stay pending."""
        done = [(c, o) for c, o in self._pending if not isinstance(o, Future) or o.done()]
        self._pending = [(c, o) for c, o in self._pending if isinstance(o, Future) and not o.done()]
        prompt = self._captioner.prompt
        for clip, outcome in done:
            text = outcome
            if isinstance(outcome, Future):
                try:
                    answer = outcome.result()
                except (CaptionError, DecodeError) as exc:
                    text = exc
                else:
                    text = answer.text
                    metrics.counter(metrics.CAPTION_ATTEMPTS).inc(answer.attempts)
            if isinstance(text, Exception):
                yield beam.pvalue.TaggedOutput(
                    FAILED, from_exception(clip, "caption", text, clip.clip_id)
                )
                continue
            metrics.counter(metrics.CAPTIONS).inc()
            yield replace(
                clip,
                caption=text,
                caption_model=self._config.model,
                prompt_id=prompt.id,
                prompt_hash=prompt.hash,
            )


def _batch_failures(dead_letter: Any) -> list[Failure]:
    """An unexpected error fails the whole batch: one failures row per clip in it."""
    batch, error = dead_letter
    return [to_failure((clip, error), "caption") for clip in batch]


class CaptionClips(beam.PTransform):
    def __init__(self, config: VlmConfig, cache_dir: str | None) -> None:
        super().__init__()
        self._config = config
        self._cache_dir = cache_dir

    def expand(self, clips: beam.PCollection[Clip]):
        batches = (
            clips
            | "Spread" >> beam.Reshuffle()
            | "Batch"
            >> beam.BatchElements(
                min_batch_size=2 * self._config.concurrency,
                max_batch_size=8 * self._config.concurrency,
            )
        )
        # Declaring the tagged output's type keeps Beam from warning that it is undeclared.
        results = (
            batches
            | "Caption"
            >> beam.ParDo(_Caption(self._config, self._cache_dir))
            .with_output_types(Clip, **{FAILED: Failure})
            .with_outputs(FAILED, main="captioned")
            .with_exception_handling()
        )
        failures = (
            results[FAILED],
            results["bad"] | "BatchFailures" >> beam.FlatMap(_batch_failures),
        ) | "Failures" >> beam.Flatten()
        return results["captioned"], failures
