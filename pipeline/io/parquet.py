"""Reading and writing the pipeline's Parquet tables: OUT/<table>/*.parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.io import storage
from pipeline.io.schemas import table_schema

# DuckDB's row-group size: one row group is one thread's unit of work when it scans.
ROW_GROUP_ROWS = 122_880


def table_dir(out: str, table: str) -> str:
    return f"{out.rstrip('/')}/{table}"


def table_files(out: str, table: str) -> list[str]:
    """Committed shards of a table, local or remote. Beam stages shards in beam-temp-*
    folders and renames them on commit: never read those."""
    files = storage.glob(f"{table_dir(out, table)}/**.parquet")
    return [f for f in files if "/beam-temp" not in f and "beam-temp-" not in Path(f).name]


def read_table(out: str, table: str, columns: list[str] | None = None) -> pa.Table:
    """All shards of one table, or an empty table with its schema when none exist yet."""
    schema = table_schema(table)
    files = table_files(out, table)
    if not files:
        empty = schema.empty_table()
        return empty.select(columns) if columns else empty
    tables = [read_file(f, table, columns) for f in files]
    return pa.concat_tables(tables)


def num_rows(path: str) -> int:
    """Rows in one shard, from its footer alone."""
    if storage.is_remote(path):
        with FileSystems.open(path) as handle:
            return pq.ParquetFile(handle).metadata.num_rows
    return pq.ParquetFile(path).metadata.num_rows


def drop_empty_shards(out: str, table: str) -> int:
    """Delete a table's shards without rows (Beam writes one per empty output)."""
    empty = [f for f in table_files(out, table) if num_rows(f) == 0]
    if empty:
        FileSystems.delete(empty)
    return len(empty)


def read_file(path: str, table: str, columns: list[str] | None = None) -> pa.Table:
    """One shard, local or remote, read with its table's schema."""
    schema = table_schema(table)
    if storage.is_remote(path):
        with FileSystems.open(path) as handle:
            return pq.read_table(handle, columns=columns, schema=schema)
    return pq.read_table(path, columns=columns, schema=schema)


class WriteTable(beam.PTransform):
    """Write row dicts as zstd Parquet shards of one table with its explicit schema."""

    def __init__(self, out: str, table: str, prefix: str, partition: str | None = None,
                 shards: int = 1) -> None:
        """prefix: the run (or wave) id that starts every file name; partition: a Hive-style
        folder under the table (task=narration/split=train); shards: files, 0 = the runner's
        choice."""
        super().__init__()
        self._out = out
        self._table = table
        self._prefix = prefix
        self._partition = partition
        self._shards = shards

    def expand(self, rows: beam.PCollection[dict[str, Any]]) -> beam.PCollection[str]:
        folder = table_dir(self._out, self._table)
        if self._partition:
            folder = f"{folder}/{self._partition}"
        return rows | beam.io.WriteToParquet(
            file_path_prefix=f"{folder}/{self._prefix}",
            schema=table_schema(self._table),
            codec="zstd",
            file_name_suffix=".parquet",
            num_shards=self._shards,
            # Row groups by row count, not bytes (Beam's documented way): each bundle's rows
            # go out in groups of ROW_GROUP_ROWS, the last one smaller.
            row_group_buffer_size=1,
            record_batch_size=ROW_GROUP_ROWS,
        )
