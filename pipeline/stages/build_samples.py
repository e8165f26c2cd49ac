"""BuildSamples: annotation rows joined per video -> sample rows, flagged ones filtered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

from pipeline import metrics
from pipeline.core.annotations import judged_video
from pipeline.core.curation import Policy, Rejection, still_window
from pipeline.core.tasks import BuildConfig, VideoInfo, build_video
from pipeline.io import progress

FILTERED = "filtered"
REJECTED = "rejected"


def video_info(
    keyed: tuple[str, dict[str, Iterable[dict[str, Any]]]],
    split_by: str,
    fractions: tuple[float, float],
    policy: Policy | None = None,
    duplicates: dict[str, str] | None = None,
) -> Iterator[Any]:
    """The video as the builders see it once the curation policy has judged it; every
    removal goes out tagged REJECTED (a dropped video yields nothing else)."""
    judged = judged_video(
        keyed[1], split_by, fractions, policy or Policy(), (duplicates or {}).get(keyed[0])
    )
    if judged is None:
        metrics.counter(metrics.ORPHAN_ROWS).inc()
        return
    info, rejections = judged
    for r in rejections:
        metrics.counter(f"{REJECTED}_{r.scope}_{r.reason}").inc()
        yield beam.pvalue.TaggedOutput(REJECTED, r)
    if info is not None:
        yield info


class _Build(beam.DoFn):
    def __init__(
        self,
        config: BuildConfig,
        keep_flagged: bool,
        run_id: str,
        config_hash: str,
        policy: Policy,
        run_started_ms: int | None = None,
    ) -> None:
        self._config = config
        self._keep = keep_flagged
        self._run = (run_id, config_hash, run_started_ms)
        self._policy = policy

    def _still(self, video: VideoInfo, row: dict[str, Any]) -> Rejection | None:
        """A picture task's sample whose window shows one unchanging picture."""
        if row["task"] not in self._policy.still_poisons:
            return None
        motion = still_window(video.clips, row["clip_start_ms"], row["clip_end_ms"], self._policy)
        if motion is None:
            return None
        threshold = self._policy.still_max_motion
        return Rejection(
            video.video_id, "sample", row["sample_id"], "still_picture", motion, threshold
        )

    def process(self, video: VideoInfo) -> Iterator[Any]:
        blocked = video.blocked_tasks
        for row in build_video(video, self._config):
            if row["task"] in blocked:  # poisoned by a curation signal: counted, not built
                metrics.counter(f"{REJECTED}_samples_{blocked[row['task']]}").inc()
                continue
            if (still := self._still(video, row)) is not None:  # a policy rule, kept or not
                metrics.counter(f"{REJECTED}_sample_{still.reason}").inc()
                yield beam.pvalue.TaggedOutput(FILTERED, still)
                continue
            row["provenance"].update(
                run_id=self._run[0], config_hash=self._run[1], run_started_ms=self._run[2]
            )
            if row["quality_flags"] and not self._keep:
                for flag in row["quality_flags"]:
                    metrics.counter(f"{FILTERED}_{flag}").inc()
                    # a removal like any other: a rejections row, one per flag it carries
                    yield beam.pvalue.TaggedOutput(
                        FILTERED, Rejection(video.video_id, "sample", row["sample_id"], flag)
                    )
                metrics.counter(FILTERED).inc()
                continue
            metrics.counter(f"samples_{row['task']}").inc()
            yield row
        progress.video_built(video.duration_ms)


class BuildSamples(beam.PTransform):
    """Inputs: {"videos", "sentences", "clips"} PCollections of table rows."""

    def __init__(
        self,
        config: BuildConfig,
        keep_flagged: bool,
        run_id: str,
        config_hash: str,
        split_by: str = "video",
        fractions: tuple[float, float] = (0.05, 0.05),
        policy: Policy | None = None,
        duplicates: dict[str, str] | None = None,
        run_started_ms: int | None = None,
    ) -> None:
        super().__init__()
        self._args = (config, keep_flagged, run_id, config_hash, policy or Policy(), run_started_ms)
        self._judge = (split_by, fractions, policy or Policy(), duplicates or {})

    def expand(self, tables: dict[str, beam.PCollection]):
        """Returns (sample rows, samples filtered by a quality flag or a still window, the
        policy's rejections); both of the latter are Rejection records."""
        keyed = {
            name: rows | f"Key{name.title()}" >> beam.Map(lambda r: (r["video_id"], r))
            for name, rows in tables.items()
        }
        judged = (
            keyed
            | "JoinByVideo" >> beam.CoGroupByKey()
            | "VideoInfo"
            >> beam.FlatMap(video_info, *self._judge).with_outputs(REJECTED, main="videos")
        )
        out = (
            judged["videos"]
            | "Spread" >> beam.Reshuffle()
            | "Build" >> beam.ParDo(_Build(*self._args)).with_outputs(FILTERED, main="rows")
        )
        return out["rows"], out[FILTERED], judged[REJECTED]


def rejection_row(r: Rejection, policy: str, run_id: str) -> dict[str, Any]:
    return {
        "video_id": r.video_id,
        "scope": r.scope,
        "item": r.item,
        "reason": r.reason,
        "detail": r.detail,
        "value": r.value,
        "threshold": r.threshold,
        "policy": policy,
        "run_id": run_id,
    }
