"""Writing the pipeline's Parquet tables from a Beam pipeline."""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from pipeline.io.parquet import ROW_GROUP_ROWS, table_dir
from pipeline.io.schemas import table_schema


class WriteTable(beam.PTransform):
    """Write row dicts as zstd Parquet shards of one table with its explicit schema."""

    def __init__(
        self, out: str, table: str, prefix: str, partition: str | None = None, shards: int = 1
    ) -> None:
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
