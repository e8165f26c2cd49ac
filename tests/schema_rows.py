"""Row dicts as a table of one of our schemas, for tests that write shards by hand (the
pipeline writes through WriteTable, which applies the same schema)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from pipeline.io.schemas import SchemaError, table_schema


def conform(rows: list[dict[str, Any]], table: str) -> pa.Table:
    """Build a table from row dicts with the table's schema; a mismatch raises SchemaError."""
    schema = table_schema(table)
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaError(f"rows do not fit the {table} schema: {exc}") from exc
