"""TranscribeSpeech: whisperx over each video's audio, words on the video's timeline."""

from __future__ import annotations

import time
from collections.abc import Iterator

import apache_beam as beam

from pipeline import metrics
from pipeline.core.asr import speech_ms, timeline_words
from pipeline.io import storage
from pipeline.models.whisper import AsrConfig, AsrHandler, SpeechRecognizer
from pipeline.records import Transcript, Video
from pipeline.stages.failures import apply_stage
from pipeline.stages.loaded import ModelDoFn


class _Transcribe(ModelDoFn[SpeechRecognizer]):
    def process(self, video: Video) -> Iterator[Transcript]:
        import whisperx

        asr = self.model()
        if video.probe.audio_codec is None:  # no sound: no speech, the picture still counts
            metrics.counter(metrics.VIDEOS_WITHOUT_AUDIO).inc()
            yield Transcript(
                video=video,
                words=(),
                language=None,
                speech_ms=0,
                asr_model=asr.model_name,
                asr_backend=asr.backend,
                word_timing=asr.word_timing,
                spoken_language=None,
            )
            return
        started = time.perf_counter()
        audio = whisperx.load_audio(storage.local_path(video.media.path))
        result = asr.transcribe_audio(audio)
        words = timeline_words(result.words, video.probe.audio_offset_ms)
        metrics.distribution(metrics.ASR_MS_PER_VIDEO).update(
            int((time.perf_counter() - started) * 1000)
        )
        metrics.counter(metrics.VIDEOS_TRANSCRIBED).inc()
        metrics.counter(metrics.WORDS).inc(len(words))
        if not words:
            metrics.counter(metrics.VIDEOS_WITHOUT_SPEECH).inc()
        yield Transcript(
            video=video,
            words=words,
            language=result.language,
            speech_ms=speech_ms(result.segments),
            asr_model=asr.model_name,
            asr_backend=asr.backend,
            word_timing=asr.word_timing,
            spoken_language=result.spoken_language,
        )


class TranscribeSpeech(beam.PTransform):
    def __init__(self, config: AsrConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, videos: beam.PCollection[Video]):
        return apply_stage(
            videos | "Spread" >> beam.Reshuffle(),
            "transcribe",
            _Transcribe(AsrHandler(self._config)),
        )
