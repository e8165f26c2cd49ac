"""TestPipeline tests per composite transform."""

import socket
from pathlib import Path

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.io.source_lists import list_media_dir
from pipeline.io.ytdlp import DownloadConfig
from pipeline.models.segmenter import SegmenterConfig
from pipeline.records import MediaFile, Probe, Source, Transcript, Video, Word
from pipeline.stages.acquire import AcquireVideos
from pipeline.stages.segment import SegmentSentences


def test_acquire_sends_every_bad_input_to_failures(
    bad_media: Path, server: str, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    sources = [
        *list_media_dir(bad_media),
        Source(uri=f"{server}/kitchen.mp4", kind="url"),
        Source(uri=f"{server}/gone.mp4", kind="url", attempt=2),
        Source(uri=f"http://127.0.0.1:{closed_port}/nohost.mp4", kind="url"),
    ]
    with TestPipeline() as p:
        videos, failures = (
            p
            | beam.Create(sources)
            | AcquireVideos(str(tmp_path / "media"), DownloadConfig(retries=0))
        )
        assert_that(
            videos | "Ids" >> beam.Map(lambda v: v.video_id.split("-")[0]),
            equal_to(["kitchen", "noaudio"]),
            label="good",
        )  # no sound: a video
        assert_that(
            failures
            | "Reasons"
            >> beam.Map(
                lambda f: (
                    Path(f.source_uri).name,
                    f.stage,
                    f.error_type,
                    f.attempt,
                    f.message.split(":")[0].split(" (")[0],
                )
            ),
            equal_to(
                [
                    ("audioonly.m4a", "probe", "ProbeError", 1, "no video stream"),
                    ("empty.mp4", "probe", "ProbeError", 1, "empty file"),
                    ("text.mp4", "probe", "ProbeError", 1, "not readable as media"),
                    ("truncated.mp4", "probe", "ProbeError", 1, "not readable as media"),
                    ("gone.mp4", "download", "DownloadFailed", 2, "http_404"),
                    ("nohost.mp4", "download", "DownloadFailed", 1, "connection"),
                ]
            ),
            label="failures",
        )


def _transcript(video_id: str, words: list[Word]) -> Transcript:
    media = MediaFile(
        source=Source(uri=f"/x/{video_id}.mp4", kind="file"),
        video_id=video_id,
        path=f"/m/{video_id}.mp4",
    )
    probe = Probe(10_000, 1, "h264", "aac", 25, 1, 320, 240, 16000, 0, 0)
    video = Video(media=media, probe=probe, sha256="0" * 64, split="train")
    return Transcript(
        video=video,
        words=tuple(words),
        language="en",
        speech_ms=0,
        asr_model="m",
        asr_backend="b",
        word_timing="t",
    )


def test_segment_sentences_per_video_including_empty() -> None:
    w = [Word("Hi.", 0, 300, 0.9), Word("Bye", 400, 700, 0.8), Word("now.", 800, 900, 0.7)]
    with TestPipeline() as p:
        annotated, failures = (
            p
            | beam.Create([_transcript("a", w), _transcript("b", [])])
            | SegmentSentences(SegmenterConfig(model="punctuation"))
        )
        assert_that(
            annotated
            | beam.Map(
                lambda a: (
                    a.transcript.video.video_id,
                    [(s.text, s.start_ms, s.end_ms) for s in a.sentences],
                    a.segmenter,
                )
            ),
            equal_to(
                [
                    ("a", [("Hi.", 0, 300), ("Bye now.", 400, 900)], "punctuation-pause"),
                    ("b", [], "punctuation-pause"),
                ]
            ),
        )
        assert_that(failures, equal_to([]), label="no failures")


def test_failure_reasons_for_counting() -> None:
    from pipeline.stages.failures import reason

    assert reason("DownloadFailed", "http_429: Too Many Requests") == "http_429"
    assert reason("CaptionRejected", "refusal: the model declined") == "refusal"
    assert reason("ProbeError", "no video stream: Invalid data") == "probeerror"
    assert reason("ValueError", "Bad: capitalised words are not reasons") == "valueerror"
