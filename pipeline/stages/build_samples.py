"""BuildSamples: annotation rows joined per video -> sample rows, flagged ones filtered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

from pipeline import metrics
from pipeline.core.splits import assign_split
from pipeline.core.tasks import BuildConfig, ClipInfo, SentenceInfo, VideoInfo, build_video

FILTERED = "filtered"


def video_info(keyed: tuple[str, dict[str, Iterable[dict[str, Any]]]], split_by: str,
               fractions: tuple[float, float]) -> Iterator[VideoInfo]:
    """The newest annotation of one video, with the sentences and clips of the same run: a
    video's rows are committed together, and a rerun with --force repeats their ids."""
    _, parts = keyed
    videos = sorted(parts["videos"], key=lambda r: r["provenance"]["run_id"] or "")
    if not videos:
        metrics.counter(metrics.ORPHAN_ROWS).inc()
        return
    v = videos[-1]
    run = v["provenance"]["run_id"]
    sentences = sorted((s for s in parts["sentences"] if s["provenance"]["run_id"] == run),
                       key=lambda s: s["index"])
    clips = sorted((c for c in parts["clips"] if c["provenance"]["run_id"] == run),
                   key=lambda c: c["index"])
    split = v["split"] if split_by == "video" else assign_split(
        v["channel_id"] or v["video_id"], *fractions)
    yield VideoInfo(
        video_id=v["video_id"], duration_ms=v["duration_ms"], split=split,
        sentences=tuple(SentenceInfo(s["sentence_id"], s["start_ms"], s["end_ms"], s["text"],
                                     s["interpolated_fraction"] or 0.0) for s in sentences),
        clips=tuple(ClipInfo(c["clip_id"], c["start_ms"], c["end_ms"], c["scene_boundary"],
                             c["caption"], c["caption_model"]) for c in clips),
        provenance=dict(v["provenance"]))


class _Build(beam.DoFn):
    def __init__(self, config: BuildConfig, keep_flagged: bool, run_id: str,
                 config_hash: str) -> None:
        self._config = config
        self._keep = keep_flagged
        self._run = (run_id, config_hash)

    def process(self, video: VideoInfo) -> Iterator[Any]:
        for row in build_video(video, self._config):
            row["provenance"].update(run_id=self._run[0], config_hash=self._run[1])
            if row["quality_flags"] and not self._keep:
                for flag in row["quality_flags"]:
                    metrics.counter(f"{FILTERED}_{flag}").inc()
                metrics.counter(FILTERED).inc()
                yield beam.pvalue.TaggedOutput(FILTERED, (row["task"], row["quality_flags"]))
                continue
            metrics.counter(f"samples_{row['task']}").inc()
            yield row


class BuildSamples(beam.PTransform):
    """Inputs: {"videos", "sentences", "clips"} PCollections of table rows."""

    def __init__(self, config: BuildConfig, keep_flagged: bool, run_id: str, config_hash: str,
                 split_by: str = "video", fractions: tuple[float, float] = (0.05, 0.05)
                 ) -> None:
        super().__init__()
        self._args = (config, keep_flagged, run_id, config_hash)
        self._split = (split_by, fractions)

    def expand(self, tables: dict[str, beam.PCollection]):
        keyed = {name: rows | f"Key{name.title()}" >> beam.Map(lambda r: (r["video_id"], r))
                 for name, rows in tables.items()}
        videos = (keyed | "JoinByVideo" >> beam.CoGroupByKey()
                  | "VideoInfo" >> beam.FlatMap(video_info, *self._split))
        out = (videos | "Spread" >> beam.Reshuffle()
               | "Build" >> beam.ParDo(_Build(*self._args)).with_outputs(FILTERED, main="rows"))
        return out["rows"], out[FILTERED]
