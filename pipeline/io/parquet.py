"""Reading the pipeline's Parquet tables: OUT/<table>/*.parquet (no Beam import: the query
commands use it; writing from a pipeline is pipeline.io.table_write)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

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
        with storage.filesystems().open(path) as handle:
            return pq.ParquetFile(handle).metadata.num_rows
    return pq.ParquetFile(path).metadata.num_rows


def drop_empty_shards(out: str, table: str) -> int:
    """Delete a table's shards without rows (Beam writes one per empty output)."""
    empty = [f for f in table_files(out, table) if num_rows(f) == 0]
    if empty:
        storage.delete_files(empty)
    return len(empty)


def read_file(path: str, table: str, columns: list[str] | None = None) -> pa.Table:
    """One shard, local or remote, read with its table's schema."""
    schema = table_schema(table)
    if storage.is_remote(path):
        with storage.filesystems().open(path) as handle:
            return pq.read_table(handle, columns=columns, schema=schema)
    return pq.read_table(path, columns=columns, schema=schema)
