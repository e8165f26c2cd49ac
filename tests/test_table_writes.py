"""WriteTable: shards and row groups are set at write time, sized for DuckDB scans."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline.io.parquet import ROW_GROUP_ROWS, read_table, table_files
from pipeline.io.table_write import WriteTable

ROWS = ROW_GROUP_ROWS + 5_000


def _failure(i: int) -> dict:
    return {
        "failure_id": f"f{i:07d}",
        "run_id": "r",
        "stage": "download",
        "source_uri": f"https://example.org/{i}",
        "video_id": None,
        "error_type": "DownloadFailed",
        "message": "http_404: gone",
        "traceback": None,
        "attempt": 1,
        "failed_at_ms": 1_700_000_000_000 + i,
    }


def test_one_file_per_shard_with_duckdb_sized_row_groups(tmp_path: Path) -> None:
    with TestPipeline() as p:
        (
            p
            | beam.Create(range(ROWS))
            | beam.Map(_failure)
            | WriteTable(str(tmp_path), "failures", "r-w00000", shards=2)
        )
    files = table_files(str(tmp_path), "failures")
    assert [Path(f).name for f in files] == [
        "r-w00000-00000-of-00002.parquet",
        "r-w00000-00001-of-00002.parquet",
    ]
    groups = [
        pq.ParquetFile(f).metadata.row_group(g).num_rows
        for f in files
        for g in range(pq.ParquetFile(f).metadata.num_row_groups)
    ]
    # groups fill up to the target, never past it (Beam alone would make one group per bundle)
    assert sum(groups) == ROWS and max(groups) == ROW_GROUP_ROWS
    table = read_table(str(tmp_path), "failures", ["failure_id"])
    assert len(set(table["failure_id"].to_pylist())) == ROWS


def test_partitions_are_hive_folders(tmp_path: Path) -> None:
    with TestPipeline() as p:
        (
            p
            | beam.Create(range(10))
            | beam.Map(_failure)
            | WriteTable(str(tmp_path), "failures", "r", "stage=download/split=train")
        )
    (f,) = table_files(str(tmp_path), "failures")
    assert Path(f).parent == tmp_path / "failures" / "stage=download" / "split=train"
    assert pq.ParquetFile(f).metadata.row_group(0).num_rows == 10
