"""Typed, immutable records that flow between stages (never untyped dicts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # a type only: records import nothing from core, core imports records
    from pipeline.core.keywords import SearchSettings


def sentence_id(video_id: str, index: int) -> str:
    """Deterministic row ids (docs/concepts.md): the same input always gets the same id."""
    return f"{video_id}:s{index}"


def clip_id(video_id: str, index: int) -> str:
    return f"{video_id}:c{index}"


SourceKind = Literal["url", "file", "search"]


@dataclass(frozen=True)
class Source:
    """One input the run was given: a URL for yt-dlp or a local media file."""

    uri: str
    kind: SourceKind
    attempt: int = 1
    keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    settings: SearchSettings | None = None  # a search result's filters, checked at download


@dataclass(frozen=True)
class MediaFile:
    """A source after acquisition: its bytes sit in the media store."""

    source: Source
    video_id: str
    path: str
    url: str | None = None
    extractor: str = "local"
    title: str | None = None
    channel_id: str | None = None
    channel: str | None = None
    license: str | None = None
    upload_date: str | None = None
    language: str | None = None
    duration_s: float | None = None
    view_count: int | None = None
    tags: tuple[str, ...] = ()
    platform_categories: tuple[str, ...] = ()
    manual_subtitles: tuple[str, ...] = ()  # languages with uploaded subtitles
    auto_subtitles: tuple[str, ...] = ()  # languages with automatic captions
    reference_text: str | None = None  # uploaded subtitles' text, to measure ASR against


@dataclass(frozen=True)
class Probe:
    """What ffprobe says about a media file; times in ms."""

    duration_ms: int
    size_bytes: int
    video_codec: str | None
    audio_codec: str | None
    fps_num: int | None
    fps_den: int | None
    width: int | None
    height: int | None
    audio_sample_rate: int | None
    video_start_ms: int | None
    audio_start_ms: int | None

    @property
    def audio_offset_ms(self) -> int:
        """ASR time 0 is the first audio sample; the timeline's zero is the first video frame."""
        if self.audio_start_ms is None or self.video_start_ms is None:
            return 0
        return self.audio_start_ms - self.video_start_ms


@dataclass(frozen=True)
class Video:
    """A probed video in the media store, ready for the model stages."""

    media: MediaFile
    probe: Probe
    sha256: str
    split: str

    @property
    def video_id(self) -> str:
        return self.media.video_id


@dataclass(frozen=True)
class Word:
    text: str
    start_ms: int
    end_ms: int
    score: float | None
    interpolated: bool = False


@dataclass(frozen=True)
class Transcript:
    """Words on the video's timeline, plus how they were obtained."""

    video: Video
    words: tuple[Word, ...]
    language: str | None  # None: no audio stream to hear
    speech_ms: int
    asr_model: str
    asr_backend: str
    word_timing: str
    spoken_language: tuple[str, float] | None = None  # heard, from a multilingual ASR


@dataclass(frozen=True)
class Sentence:
    index: int
    words: tuple[Word, ...]

    @property
    def start_ms(self) -> int:
        return self.words[0].start_ms

    @property
    def end_ms(self) -> int:
        return max(w.end_ms for w in self.words)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class AnnotatedVideo:
    """The end of the annotate phase for one video: everything its table rows need."""

    transcript: Transcript
    sentences: tuple[Sentence, ...]
    segmenter: str
    text_language: tuple[str, float] | None = None  # of the transcript's text (py3langid)


@dataclass(frozen=True)
class Failure:
    stage: str
    source_uri: str
    video_id: str | None
    error_type: str
    message: str
    traceback: str
    attempt: int
    reason: str = ""  # a word to count by (http_404, refusal, symlink_outside, ...)


@dataclass(frozen=True)
class RunContext:
    """Run-level facts every row's provenance repeats."""

    run_id: str
    config_hash: str
    pipeline_version: str
    started_ms: int | None = None  # ms since the epoch: orders runs whatever their ids


@dataclass(frozen=True)
class SampledFrames:
    """Frames sampled from one video: their times, their distances, and CLIP embeddings."""

    video: Video
    frame_ms: tuple[int, ...]
    frame_index: tuple[int, ...]
    distances: tuple[float, ...]  # histogram distance from each sample to the next
    end_ms: int
    fps: float
    embeddings: np.ndarray | None = field(default=None, compare=False)
    clip_model: str | None = None
    # where every frame was decoded (None where only the samples were): the histogram
    # distance from each frame to the next, and each frame's time, so scene detection can
    # place a cut between two samples to the frame, and find every cut there
    steps: np.ndarray | None = field(default=None, compare=False)
    step_ms: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Clip:
    """A span that never crosses a cut; caption and scores are filled in by later stages."""

    video: Video
    index: int
    start_ms: int
    end_ms: int
    scene_boundary: bool
    keyframe_ms: tuple[int, ...]
    scene_detector: str
    frame_fps: float
    keyframe_embeddings: np.ndarray | None = field(default=None, compare=False)
    clip_model: str | None = None
    caption: str | None = None
    caption_model: str | None = None
    prompt_id: str | None = None
    prompt_hash: str | None = None
    clip_score: float | None = None
    embedding_change: float | None = None
    # curation signals (InspectKeyframes, DetectScenes); None where they were not measured
    motion: float | None = None  # mean histogram distance between the clip's sampled frames
    screen_text: str | None = None  # OCR of the inspected keyframes
    screen_text_area: float | None = None  # largest share of a keyframe covered by text
    face_area: float | None = None  # largest face's share of a keyframe
    frame_hash: int | None = None  # dHash of the first keyframe (near-duplicate videos)
    inspector: str | None = None  # which OCR / face detector measured them

    @property
    def video_id(self) -> str:
        return self.video.video_id

    @property
    def clip_id(self) -> str:
        return clip_id(self.video.video_id, self.index)


@dataclass(frozen=True)
class VideoClips:
    """DetectScenes' plan for one video: every clip the video must end up with."""

    video: Video
    clips: tuple[Clip, ...]


@dataclass(frozen=True)
class Measures:
    """The signals curation reads, measured once a video is complete (core/measures.py):
    the videos row's signal columns, and each sentence's and clip's, in their order."""

    video: dict[str, Any]
    sentences: tuple[dict[str, Any], ...]
    clips: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class CompleteVideo:
    """A video whose every stage succeeded: only these are written, all rows at once."""

    annotated: AnnotatedVideo
    clips: tuple[Clip, ...]
    measures: Measures | None = None

    @property
    def video(self) -> Video:
        return self.annotated.transcript.video
