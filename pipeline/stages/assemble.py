"""AssembleVideos: a video is written only when every stage succeeded for all of it, with the
signals curation reads measured once it is whole (core/measures.py).

Speech, the scene plan and each captioned clip meet by video id. A video missing any part
(its failure is already a failures row) writes nothing, so a rerun retries it whole; captions
that did succeed come from the cache then.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

from pipeline import metrics
from pipeline.core.measures import measure
from pipeline.records import AnnotatedVideo, Clip, CompleteVideo, VideoClips


def complete(keyed: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[CompleteVideo]:
    _, parts = keyed
    speech: list[AnnotatedVideo] = list(parts["speech"])
    plans: list[VideoClips] = list(parts["plan"])
    captioned: dict[int, Clip] = {c.index: c for c in parts["captioned"]}
    if len(speech) != 1 or len(plans) != 1 or len(captioned) != len(plans[0].clips):
        metrics.counter(metrics.VIDEOS_INCOMPLETE).inc()
        return
    metrics.counter(metrics.VIDEOS_COMPLETE).inc()
    clips = tuple(captioned[c.index] for c in plans[0].clips)
    yield CompleteVideo(annotated=speech[0], clips=clips, measures=measure(speech[0], clips))


class AssembleVideos(beam.PTransform):
    def expand(self, parts: dict[str, beam.PCollection]):
        keyed = {
            "speech": parts["speech"]
            | "KeySpeech" >> beam.Map(lambda a: (a.transcript.video.video_id, a)),
            "plan": parts["plan"] | "KeyPlan" >> beam.Map(lambda p: (p.video.video_id, p)),
            "captioned": parts["captioned"] | "KeyClips" >> beam.Map(lambda c: (c.video_id, c)),
        }
        return keyed | "Join" >> beam.CoGroupByKey() | "Complete" >> beam.FlatMap(complete)
