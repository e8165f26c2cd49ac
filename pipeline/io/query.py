"""DuckDB over a run's output: each table a view by its name.

A table with no shards yet is an empty view typed by its schema in plain SQL: handing DuckDB an
Arrow table (`register`, `from_arrow`) imports pandas, a third of a second for every query."""

from __future__ import annotations

from typing import Any

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
            columns = ", ".join(
                f"CAST(NULL AS {duck_type(f.type)}) AS {_name(f.name)}" for f in table_schema(table)
            )
            con.execute(f"CREATE VIEW {table} AS SELECT {columns} WHERE false")
    return con


def _name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duck_type(arrow: Any) -> str:
    """The DuckDB type of an Arrow type in our schemas."""
    import pyarrow as pa

    simple = {
        pa.string(): "VARCHAR",
        pa.large_string(): "VARCHAR",
        pa.bool_(): "BOOLEAN",
        pa.int8(): "TINYINT",
        pa.int16(): "SMALLINT",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.float32(): "FLOAT",
        pa.float64(): "DOUBLE",
        pa.binary(): "BLOB",
    }
    if arrow in simple:
        return simple[arrow]
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return f"{duck_type(arrow.value_type)}[]"
    if pa.types.is_struct(arrow):
        fields = ", ".join(f"{_name(f.name)} {duck_type(f.type)}" for f in arrow)
        return f"STRUCT({fields})"
    if pa.types.is_timestamp(arrow):
        return "TIMESTAMP"
    raise TypeError(f"no DuckDB type for {arrow} (add it to query.duck_type)")
