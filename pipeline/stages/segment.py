"""SegmentSentences: transcript words -> sentences that keep their words' times."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam

from pipeline import metrics
from pipeline.models.langid import LangIdHandler, identify
from pipeline.models.segmenter import SegmenterConfig, SegmenterHandler, SentenceSegmenter
from pipeline.records import AnnotatedVideo, Transcript
from pipeline.stages.failures import apply_stage
from pipeline.stages.loaded import ModelDoFn


class _Segment(ModelDoFn[SentenceSegmenter]):
    def __init__(self, handler: SegmenterHandler) -> None:
        super().__init__(handler)
        self._langid = LangIdHandler().share()
        self._identifier = None

    def setup(self) -> None:
        super().setup()
        self._identifier = self._langid.acquire()

    def process(self, transcript: Transcript) -> Iterator[AnnotatedVideo]:
        sentences = self.model().segment(transcript.words)
        metrics.counter(metrics.SENTENCES).inc(len(sentences))
        yield AnnotatedVideo(
            transcript=transcript,
            sentences=sentences,
            segmenter=self.model().name,
            text_language=identify(" ".join(w.text for w in transcript.words), self._identifier),
        )


class SegmentSentences(beam.PTransform):
    def __init__(self, config: SegmenterConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, transcripts: beam.PCollection[Transcript]):
        return apply_stage(transcripts, "segment", _Segment(SegmenterHandler(self._config)))
