"""Row dicts as a table of one of our schemas, for tests that write shards by hand (the
pipeline writes through WriteTable, which applies the same schema)."""

from __future__ import annotations

from pathlib import Path
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


def write_videos(out: Path, media: dict[str, tuple[Path, int]]) -> Path:
    """An annotate OUT holding only a videos table: video id -> (media file, duration ms),
    each file copied into OUT/media as annotate keeps it."""
    import shutil

    import pyarrow.parquet as pq

    (out / "media").mkdir(parents=True)
    (out / "videos").mkdir()
    rows = []
    for vid, (path, duration_ms) in sorted(media.items()):
        shutil.copyfile(path, out / "media" / path.name)
        rows.append(
            {
                "video_id": vid,
                "source_uri": str(path),
                "sha256": "0",
                "duration_ms": duration_ms,
                "media_uri": str(out / "media" / path.name),
                "split": "train",
                "provenance": {"pipeline_version": "test", "run_id": "r1"},
            }
        )
    pq.write_table(conform(rows, "videos"), out / "videos" / "part.parquet")
    return out


def write_samples(root: Path, rows: list[dict[str, Any]]) -> Path:
    """A SAMPLES folder as build lays it out (samples/task=/split=/), from sample rows."""
    import pyarrow.parquet as pq

    for task, split in sorted({(r["task"], r["split"]) for r in rows}):
        part = root / "samples" / f"task={task}" / f"split={split}"
        part.mkdir(parents=True)
        pq.write_table(
            conform([r for r in rows if (r["task"], r["split"]) == (task, split)], "samples"),
            part / "a.parquet",
        )
    return root


def complete_rows(rows: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    """Hand-made rows with a plain value in every required column they leave empty."""
    plain = {pa.string(): "test", pa.int64(): 0, pa.int32(): 0, pa.float64(): 0.0}
    required = [f for f in table_schema(table) if not f.nullable and f.type in plain]
    return [
        {**r, **{f.name: plain[f.type] for f in required if r.get(f.name) is None}} for r in rows
    ]


def write_annotations(out: Path, tables: dict[str, list[dict[str, Any]]], shards: int = 1) -> Path:
    """An annotate OUT from hand-made rows: videos, sentences and clips, each table in
    `shards` files."""
    import pyarrow.parquet as pq

    for table in ("videos", "sentences", "clips"):
        rows = complete_rows(tables[table], table)
        (out / table).mkdir(parents=True)
        for k in range(shards):
            pq.write_table(conform(rows[k::shards], table), out / table / f"w{k}.parquet")
    return out
