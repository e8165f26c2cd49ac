"""Table schemas: the YAML definitions in schemas/ turned into explicit pyarrow schemas."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
TABLES = ("videos", "sentences", "clips", "samples", "failures")
OTHER_TABLES = ("rejections",)  # build's record of what curation removed (SAMPLES/rejections)

_PRIMITIVES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
}


class SchemaError(ValueError):
    """A schema file is malformed, or data does not match its schema."""


@functools.cache
def _common_types() -> dict[str, Any]:
    doc = yaml.safe_load((SCHEMA_DIR / "common.yaml").read_text())
    return doc["types"]


def _arrow_type(spec: Any) -> pa.DataType:
    if isinstance(spec, str):
        if spec in _PRIMITIVES:
            return _PRIMITIVES[spec]
        common = _common_types()
        if spec in common:
            return _arrow_type(common[spec])
        raise SchemaError(f"unknown type {spec!r}")
    kind = spec.get("type")
    if kind == "list":
        return pa.list_(_arrow_type(spec["items"]))
    if kind == "struct":
        return pa.struct([_arrow_field(f) for f in spec["fields"]])
    if isinstance(kind, str) and not spec.keys() - {"type", "doc"}:
        return _arrow_type(kind)
    raise SchemaError(f"cannot read type {spec!r}")


def _arrow_field(spec: dict[str, Any]) -> pa.Field:
    return pa.field(spec["name"], _arrow_type(spec["type"]), nullable=spec.get("nullable", True))


@functools.cache
def table_schema(table: str) -> pa.Schema:
    """The pyarrow schema of one table, with its name and version in the metadata."""
    path = SCHEMA_DIR / f"{table}.yaml"
    if not path.is_file():
        raise SchemaError(f"no schema for table {table!r} (looked for {path.name})")
    doc = yaml.safe_load(path.read_text())
    fields = [_arrow_field(f) for f in doc["fields"]]
    meta = {"ominous.table": doc["table"], "ominous.schema_version": str(doc["version"])}
    return pa.schema(fields, metadata=meta)


def schema_version(table: str) -> int:
    return int(table_schema(table).metadata[b"ominous.schema_version"])
