"""Dead letters from every stage become Failure records for the failures table."""

from __future__ import annotations

import re
from typing import Any

import apache_beam as beam

from pipeline import metrics
from pipeline.records import (
    AnnotatedVideo,
    Clip,
    CompleteVideo,
    Failure,
    MediaFile,
    SampledFrames,
    Source,
    Transcript,
    Video,
    VideoClips,
)


def _identify(element: Any) -> tuple[Source, str | None]:
    """The source (and video id, once known) of whatever element a stage failed on."""
    if isinstance(element, Source):
        return element, None
    if isinstance(element, MediaFile):
        return element.source, element.video_id
    if isinstance(element, Video):
        return element.media.source, element.video_id
    if isinstance(element, Transcript | SampledFrames | Clip | VideoClips | CompleteVideo):
        return element.video.media.source, element.video.video_id
    if isinstance(element, AnnotatedVideo):
        video = element.transcript.video
        return video.media.source, video.video_id
    raise TypeError(f"no source known for a failed {type(element).__name__}")


_REASON = re.compile(r"^([a-z][a-z0-9_]*): ")


def reason(error_type: str, message: str) -> str:
    """A short reason for counting: the `reason: ...` that download and caption messages
    start with, else the error type."""
    found = _REASON.match(message)
    return found.group(1) if found else error_type.lower()


def failure(
    element: Any,
    stage: str,
    error_type: str,
    message: str,
    traceback: str,
    subject: str | None = None,
) -> Failure:
    """`subject` names the part of the video that failed (a clip id) when it is not all of it."""
    source, video_id = _identify(element)
    why = reason(error_type, message)
    metrics.counter(metrics.FAILURES).inc()
    metrics.counter(f"{metrics.FAILURES}_{stage}").inc()
    metrics.counter(f"{metrics.FAILURES}_{stage}_{why}").inc()
    if subject:
        message = f"{subject}: {message}"
    return Failure(
        stage=stage,
        source_uri=source.uri,
        video_id=video_id,
        error_type=error_type,
        message=message,
        traceback=traceback,
        attempt=source.attempt,
        reason=why,
    )


def from_exception(
    element: Any, stage: str, exc: BaseException, subject: str | None = None
) -> Failure:
    import traceback

    tb = "".join(traceback.format_exception(exc))
    return failure(element, stage, type(exc).__name__, str(exc), tb, subject)


def to_failure(dead_letter: Any, stage: str) -> Failure:
    element, (exc_type, _exc_repr, tb_lines) = dead_letter
    # The last traceback line is "Type: message"; keep the message without the type.
    last = tb_lines[-1].strip() if tb_lines else str(_exc_repr)
    message = last.split(": ", 1)[1] if ": " in last else last
    return failure(
        element, stage, getattr(exc_type, "__name__", str(exc_type)), message, "".join(tb_lines)
    )


def apply_stage(
    pcoll: beam.PCollection, stage: str, dofn: beam.DoFn
) -> tuple[beam.PCollection, beam.PCollection[Failure]]:
    """ParDo with Beam's dead-letter handling; failures keep the stage name and the reason."""
    good, bad = pcoll | stage.capitalize() >> beam.ParDo(dofn).with_exception_handling()
    failures = bad | f"{stage.capitalize()}Failures" >> beam.Map(to_failure, stage)
    return good, failures
