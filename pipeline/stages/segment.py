"""SegmentSentences: transcript words -> sentences that keep their words' times."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import apache_beam as beam

from pipeline import metrics
from pipeline.models.langid import identify
from pipeline.models.segmenter import SegmenterConfig, SentenceSegmenter
from pipeline.records import AnnotatedVideo, Transcript
from pipeline.stages.failures import apply_stage


@functools.lru_cache(maxsize=2)
def shared_segmenter(config: SegmenterConfig) -> SentenceSegmenter:
    return SentenceSegmenter(config)


class _Segment(beam.DoFn):
    def __init__(self, config: SegmenterConfig) -> None:
        self._config = config
        self._segmenter: SentenceSegmenter | None = None

    def setup(self) -> None:
        self._segmenter = shared_segmenter(self._config)

    def process(self, transcript: Transcript) -> Iterator[AnnotatedVideo]:
        assert self._segmenter is not None, "setup() loads the segmenter"
        sentences = self._segmenter.segment(transcript.words)
        metrics.counter(metrics.SENTENCES).inc(len(sentences))
        yield AnnotatedVideo(transcript=transcript, sentences=sentences,
                             segmenter=self._segmenter.name,
                             text_language=identify(" ".join(w.text for w in transcript.words)))


class SegmentSentences(beam.PTransform):
    def __init__(self, config: SegmenterConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, transcripts: beam.PCollection[Transcript]):
        return apply_stage(transcripts, "segment", _Segment(self._config))
