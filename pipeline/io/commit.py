"""Exactly-once commits of annotate's output, one wave of sources at a time.

A wave's pipeline writes every table into OUT/_staging/<wave>/. Once the pipeline has finished,
the driver marks the folder complete and moves its shards into OUT/<table>/, the videos table
last: a videos row is what marks a video done. A run killed at any point leaves a staging
folder that is either incomplete (deleted on the next start, so its videos are redone) or
complete (its remaining moves are finished on the next start). No row lands twice or never.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline.errors import UsageError
from pipeline.io import storage
from pipeline.io.parquet import num_rows, table_dir, table_files

log = logging.getLogger(__name__)

STAGING = "_staging"
COMPLETE = "_COMPLETE"
# Videos last: every other row of a video is in OUT before the row that says it is done.
PUBLISH_ORDER = ("failures", "sentences", "clips", "videos")


@dataclass(frozen=True)
class Recovered:
    published: tuple[str, ...]
    discarded: tuple[str, ...]


class RunInProgress(UsageError):
    """Another annotate, build or compact holds OUT (its unfinished waves must not be taken
    for a killed run's), or a build's publishing is unfinished: exit 2, nothing written."""


@contextmanager
def flocked(lock: Path, busy: str) -> Iterator[None]:
    """An exclusive flock on the file `lock`, which the system releases when the holder
    dies, even by kill -9; RunInProgress saying `busy` where another process holds it."""
    with open(lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunInProgress(f"{busy}; wait for it, or use another --out") from exc
        yield


@contextmanager
def exclusive(out: str) -> Iterator[None]:
    """Hold OUT for one writer at a time (annotate, compact). A local OUT is locked with
    flock, which the system releases when the holder dies, even by kill -9. Object stores
    have no such lock: there, running one writer per OUT is up to you."""
    if storage.is_remote(out):
        yield
        return
    root = Path(staging_root(out))
    created = [p for p in (Path(out), root) if not p.exists()]
    root.mkdir(parents=True, exist_ok=True)
    with flocked(root / "LOCK", f"another annotate, build or compact is writing to {out}"):
        try:
            yield
        except BaseException:
            # a command that failed before writing anything leaves no folder of its own
            if created and [x.name for x in root.iterdir()] == ["LOCK"]:
                (root / "LOCK").unlink()
                for folder in reversed(created):
                    if folder.is_dir() and not any(folder.iterdir()):
                        folder.rmdir()
            raise


def staging_root(out: str) -> str:
    return storage.join(out, STAGING)


def wave_dir(out: str, wave: str) -> str:
    return storage.join(staging_root(out), wave)


def mark_complete(stage: str) -> None:
    """The wave's pipeline has finished: from now on its rows are published, never redone."""
    storage.write_text(storage.join(stage, COMPLETE), "")


def publish(stage: str, out: str) -> dict[str, int]:
    """Move a complete wave's shards into OUT (same names), then drop its folder. Safe to
    repeat after an interruption: moved shards are no longer in the staging folder. Empty
    shards (a wave without failures) are left behind and deleted with the folder. Returns the
    rows moved per table (counted from the footers, so the run's counts need no table scan)."""
    moved = dict.fromkeys(PUBLISH_ORDER, 0)
    for table in PUBLISH_ORDER:
        for shard in table_files(stage, table):
            rows = num_rows(shard)
            if rows == 0:
                continue
            name = PurePosixPath(shard.replace("\\", "/")).name
            storage.move(shard, storage.join(table_dir(out, table), name))
            moved[table] += rows
    storage.delete_tree(stage)
    return moved


def _wave_names(root: str) -> tuple[set[str], set[str]]:
    """(every wave with a staging folder under `root`, the complete ones)."""
    root = root.rstrip("/")
    if storage.is_remote(root):  # object stores have no folders: name waves by their files
        waves = {
            f[len(root) + 1 :].split("/", 1)[0]
            for f in storage.glob(f"{root}/**")
            if f.startswith(root + "/")
        }
    elif Path(root).is_dir():
        waves = {p.name for p in Path(root).iterdir() if p.is_dir()}
    else:
        waves = set()
    complete = {w for w in waves if storage.exists(storage.join(root, w, COMPLETE))}
    return waves, complete


def recover(out: str) -> Recovered:
    """Finish what a killed run left: publish complete waves, delete incomplete ones."""
    waves, complete = _wave_names(staging_root(out))
    for wave in sorted(complete):
        rows = publish(wave_dir(out, wave), out)
        log.warning("wave %s had finished but was not published: moved its rows %s", wave, rows)
    for wave in sorted(waves - complete):
        storage.delete_tree(wave_dir(out, wave))
        log.warning("wave %s did not finish: its partial output was discarded", wave)
    return Recovered(tuple(sorted(complete)), tuple(sorted(waves - complete)))


# -- build: one samples table per SAMPLES folder, replaced whole -------------------------------

BUILD_FILES = ("README.md", "build.yaml")  # the card and the record, written with the rows
BUILD_TABLES = ("rejections", "samples")
BUILD_STAGING = "_build_staging"  # apart from annotate's waves: --out may be annotate's OUT


def build_stage(out: str, run_id: str) -> str:
    return storage.join(out, BUILD_STAGING, run_id)


def _relative(path: str, base: str) -> str:
    return path.replace("\\", "/")[len(base.rstrip("/").replace("\\", "/")) + 1 :]


def publish_build(stage: str, out: str, run_id: str) -> int:
    """Replace SAMPLES' samples table with a complete build's: the old shards go first, then
    the new ones move in (same partition paths), then the card and build.yaml. Safe to repeat
    after an interruption: this build's own shards (named by its run id) are never deleted.
    Returns the shards moved."""
    moved = 0
    for table in BUILD_TABLES:
        for shard in table_files(out, table):
            if not PurePosixPath(shard.replace("\\", "/")).name.startswith(f"{run_id}-"):
                storage.delete_files([shard])
        for shard in table_files(stage, table):
            storage.move(
                shard,
                storage.join(table_dir(out, table), _relative(shard, table_dir(stage, table))),
            )
            moved += 1
    for name in BUILD_FILES:
        if storage.exists(storage.join(stage, name)):
            storage.move(storage.join(stage, name), storage.join(out, name))
    storage.delete_tree(stage)
    return moved


def recover_build(out: str) -> Recovered:
    """Finish publishing a complete build a kill interrupted; discard an unfinished one (the
    samples table it would have replaced is still whole)."""
    waves, complete = _wave_names(storage.join(out, BUILD_STAGING))
    for run in sorted(complete):
        publish_build(build_stage(out, run), out, run)
        log.warning("build %s had finished but was not published: published it now", run)
    for run in sorted(waves - complete):
        storage.delete_tree(build_stage(out, run))
        log.warning("build %s did not finish: its partial output was discarded", run)
    return Recovered(tuple(sorted(complete)), tuple(sorted(waves - complete)))


def check_published(samples: str) -> None:
    """Readers (mix) refuse a SAMPLES folder whose last build is published only in part."""
    _, complete = _wave_names(storage.join(samples, BUILD_STAGING))
    if complete:
        raise RunInProgress(
            f"{samples}: build {sorted(complete)[0]} finished but was not "
            "fully published (killed?); run ominous build again on this "
            "--out to finish it"
        )
