"""compact: many small shards -> few large ones per partition, same rows, duplicates gone."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from schema_rows import complete_rows, conform, write_annotations
from test_tasks import TABLES, _info

from pipeline import cli
from pipeline.compact import compact
from pipeline.core.tasks import BuildConfig, build_video
from pipeline.io.parquet import ROW_GROUP_ROWS, read_table, table_files
from pipeline.io.query import connect


def test_compact_merges_per_partition_and_drops_duplicates(tmp_path: Path, capsys) -> None:
    rows = build_video(_info(TABLES, "v1"), BuildConfig())
    out = tmp_path / "out"
    n_files = 0
    for k in range(6):  # six runs' worth of small shards, the last one repeating the first
        copy = k % 5
        for task in {r["task"] for r in rows}:
            part = [
                {**r, "sample_id": f"{r['sample_id']}-{copy}"} for r in rows if r["task"] == task
            ]
            folder = out / "samples" / f"task={task}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(conform(part, "samples"), folder / f"run{k}-00000-of-00001.parquet")
            n_files += 1
    before = read_table(str(out), "samples")
    assert before.num_rows == 6 * len(rows)
    (summary,) = compact(str(out), rows_per_file=40)
    after = read_table(str(out), "samples")
    assert summary.files_before == n_files and summary.duplicates_dropped == len(rows)
    assert after.num_rows == 5 * len(rows) == summary.rows
    assert len(set(after["sample_id"].to_pylist())) == after.num_rows
    files = table_files(str(out), "samples")
    assert len(files) == summary.files_after < n_files
    assert all(Path(f).name.startswith("compact-") for f in files)
    tasks = {Path(f).parent.name for f in files}
    assert len(tasks) == len({r["task"] for r in rows})  # a folder per task (Hive partitions)
    assert all(pq.ParquetFile(f).metadata.num_rows <= 40 for f in files)
    assert pq.ParquetFile(files[0]).metadata.row_group(0).num_rows <= ROW_GROUP_ROWS
    counted = connect(str(out)).sql("SELECT count(*) FROM samples").fetchall()[0][0]
    assert counted == after.num_rows
    assert cli.main(["compact", str(out)]) == cli.EXIT_OK  # again: nothing to drop
    assert "samples" in capsys.readouterr().out
    assert read_table(str(out), "samples").num_rows == after.num_rows


def test_compact_keeps_the_newest_run_of_a_repeated_id(tmp_path: Path) -> None:
    """A rerun with --force writes the same ids again: compact keeps the newest run's rows,
    the ones build reads."""
    rows = [r for r in build_video(_info(TABLES, "v1"), BuildConfig()) if r["task"] == "stop"]
    folder = tmp_path / "samples" / "task=stop"
    folder.mkdir(parents=True)
    for run in ("run-20260101T000000", "run-20260301T000000", "run-20260201T000000"):
        part = [{**r, "provenance": {**r["provenance"], "run_id": run}} for r in rows]
        pq.write_table(conform(part, "samples"), folder / f"{run}-00000-of-00001.parquet")
    (summary,) = compact(str(tmp_path))
    assert summary.duplicates_dropped == 2 * len(rows)
    kept = read_table(str(tmp_path), "samples").to_pylist()
    assert sorted(r["sample_id"] for r in kept) == sorted(r["sample_id"] for r in rows)
    assert {r["provenance"]["run_id"] for r in kept} == {"run-20260301T000000"}


def test_newest_is_the_run_that_started_last_whatever_its_name(tmp_path: Path) -> None:
    """Run ids are any name (`--run-id final`, then `--run-id again`): the newest run is
    the one that started last; rows written before starts were recorded are older than any
    that has one. compact, build and export all choose by the same key."""
    from pipeline.core.annotations import newest, newest_by_video
    from pipeline.export import newest_videos

    rows = [r for r in build_video(_info(TABLES, "v1"), BuildConfig()) if r["task"] == "stop"]
    folder = tmp_path / "samples" / "task=stop"
    folder.mkdir(parents=True)
    runs = {"zzz-old-unrecorded": None, "zzz-first": 1_000, "aaa-second": 2_000}
    for run, started in runs.items():
        prov = {"run_id": run, "run_started_ms": started}
        part = [{**r, "provenance": {**r["provenance"], **prov}} for r in rows]
        pq.write_table(conform(part, "samples"), folder / f"{run}-00000-of-00001.parquet")
    compact(str(tmp_path))
    kept = read_table(str(tmp_path), "samples").to_pylist()
    assert {r["provenance"]["run_id"] for r in kept} == {"aaa-second"}

    def row(run: str, **more) -> dict:
        return {
            "video_id": "v1",
            "provenance": {"run_id": run, "run_started_ms": runs[run]},
            **more,
        }

    videos = [row(run) for run in runs]
    assert newest_by_video(videos)["v1"]["provenance"]["run_id"] == "aaa-second"
    clips = [row(run, clip_id=f"c-{run}", index=0) for run in runs]
    v, _, (clip,) = newest({"videos": videos, "sentences": [], "clips": clips})
    assert v["provenance"]["run_id"] == clip["provenance"]["run_id"] == "aaa-second"
    out = tmp_path / "annotations"
    (out / "videos").mkdir(parents=True)
    table = [
        {"video_id": "v1", "source_uri": "v1.mp4", "sha256": "0", "duration_ms": 1000,
         "media_uri": f"{run}.mp4", "split": "train",
         "provenance": {"pipeline_version": "t", "run_id": run, "run_started_ms": runs[run]}}
        for run in runs
    ]  # fmt: skip
    pq.write_table(conform(table, "videos"), out / "videos" / "part.parquet")
    assert newest_videos(str(out))["v1"]["media_uri"] == "aaa-second.mp4"


@pytest.mark.slow
def test_a_compact_killed_mid_swap_is_refused_by_build_then_finished(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """kill -9 of compact after its merged write (simulated: the deletions never happen)
    left old and merged rows side by side, and build made duplicate samples with exit 0.
    Now build refuses by name; the next compact finishes the swap; build then makes the
    same samples as from the clean table."""
    from apache_beam.io.filesystems import FileSystems

    import pipeline.compact as compact_module

    out = tmp_path / "out"
    write_annotations(out, TABLES, 3)
    reference = tmp_path / "reference"
    assert cli.main(["build", "--annotations", str(out), "--out", str(reference)]) == 0
    want = sorted(read_table(str(reference), "samples", ["sample_id"])["sample_id"].to_pylist())

    def killed(paths) -> None:
        raise KeyboardInterrupt  # the process dies before deleting the old shards

    monkeypatch.setattr(compact_module.FileSystems, "delete", killed)
    with contextlib.suppress(KeyboardInterrupt):
        compact(str(out), tables=("sentences",))
    monkeypatch.undo()
    assert FileSystems.delete is not killed
    assert read_table(str(out), "sentences").num_rows > len(TABLES["sentences"])  # side by side
    samples = tmp_path / "samples"
    assert cli.main(["build", "--annotations", str(out), "--out", str(samples)]) == 2
    assert "killed while swapping" in capsys.readouterr().err
    assert cli.main(["compact", str(out)]) == cli.EXIT_OK
    ids = read_table(str(out), "sentences")["sentence_id"].to_pylist()
    assert len(ids) == len(set(ids))
    assert cli.main(["build", "--annotations", str(out), "--out", str(samples)]) == 0
    got = sorted(read_table(str(samples), "samples", ["sample_id"])["sample_id"].to_pylist())
    assert got == want and len(set(got)) == len(got)


@pytest.mark.slow
def test_build_counts_a_repeated_row_once(tmp_path: Path) -> None:
    """Sentences and clips copied twice within one run (by hand, or an old compact): build
    makes each sample once, as from the clean table."""
    clean, doubled = tmp_path / "clean", tmp_path / "doubled"
    write_annotations(clean, TABLES, 1)
    write_annotations(doubled, TABLES, 1)
    for table in ("sentences", "clips"):
        rows = complete_rows(TABLES[table], table)
        pq.write_table(conform(rows, table), doubled / table / "copy.parquet")
    ids = []
    for out in (clean, doubled):
        assert cli.main(["build", "--annotations", str(out), "--out", str(out / "s")]) == 0
        ids.append(sorted(read_table(str(out / "s"), "samples")["sample_id"].to_pylist()))
    assert ids[0] == ids[1] and len(set(ids[1])) == len(ids[1])
