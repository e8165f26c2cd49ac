"""Check a run's Parquet files against the table schemas."""

from __future__ import annotations

import pyarrow.parquet as pq

from pipeline.io.parquet import table_files
from pipeline.io.schemas import TABLES, table_schema


def _non_null_problems(path: str, table: str) -> list[str]:
    schema = table_schema(table)
    data = pq.read_table(path)
    return [
        f"{path}: column {f.name} has {data[f.name].null_count} nulls but is not nullable"
        for f in schema
        if not f.nullable and data[f.name].null_count
    ]


def validate(out: str) -> tuple[dict[str, int], list[str]]:
    """Row counts per table, and every problem found (empty list when all is valid)."""
    counts: dict[str, int] = {}
    problems: list[str] = []
    for table in TABLES:
        expected = table_schema(table)
        counts[table] = 0
        for path in table_files(out, table):
            try:
                actual = pq.read_schema(path)
                # Column names and types must match; nullability is checked on the data.
                if [(f.name, f.type) for f in actual] != [(f.name, f.type) for f in expected]:
                    problems.append(
                        f"{path}: schema differs from {table}:\n  expected "
                        f"{expected}\n  found {actual}"
                    )
                    continue
                problems.extend(_non_null_problems(str(path), table))
                counts[table] += pq.read_metadata(path).num_rows
            except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                problems.append(f"{path}: not a readable Parquet file ({exc})")
    return counts, problems
