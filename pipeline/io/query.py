"""DuckDB over a run's output: each table a view by its name."""

from __future__ import annotations

import duckdb

from pipeline.io.parquet import table_files
from pipeline.io.schemas import OTHER_TABLES, TABLES, table_schema


def connect(out: str) -> duckdb.DuckDBPyConnection:
    """A connection with one view per table; tables with no shards yet are empty views."""
    con = duckdb.connect()
    for table in (*TABLES, *OTHER_TABLES):
        files = [str(f) for f in table_files(out, table)]
        if files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}], "
                "union_by_name = true, hive_partitioning = true)"
            )
        else:
            empty = table_schema(table).empty_table()
            con.register(f"_{table}_empty", empty)
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_empty")
    return con
