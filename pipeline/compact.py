"""`ominous compact OUT`: merge a table's small shards into few large ones, sized for DuckDB
scans (row groups of ~122,880 rows, files of up to `--rows-per-file` rows), per partition.

Rows are de-duplicated by the table's id while merging. The swap is one unit for readers:
the merged files are written under temporary names, then a journal in the table's folder
lists the renames and deletions, then they are done, then the journal goes. A compact killed
before the journal left only temporary files (the next one deletes them); one killed after
it left the journal, which the next compact (and annotate, when it recovers OUT) finishes,
and which build refuses to read past: never old and merged rows side by side.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.core.annotations import recency
from pipeline.errors import UsageError
from pipeline.io import commit, storage
from pipeline.io.parquet import ROW_GROUP_ROWS, read_file, table_dir, table_files
from pipeline.io.schemas import TABLES

TMP = ".tmp"
JOURNAL = "_compact.journal"
ID_COLUMN = {
    "videos": "video_id",
    "sentences": "sentence_id",
    "clips": "clip_id",
    "samples": "sample_id",
    "failures": "failure_id",
}


@dataclass(frozen=True)
class CompactSummary:
    table: str
    files_before: int
    files_after: int
    rows: int
    duplicates_dropped: int


def _recencies(table: pa.Table) -> list[tuple[bool, int, str]]:
    """Each row's run, as `recency` orders runs (failures rows have a run id alone)."""
    if "provenance" not in table.column_names:
        return [(False, 0, run or "") for run in table["run_id"].to_pylist()]
    prov = table["provenance"]  # read with the table's schema: older rows have null starts
    started = pc.struct_field(prov, "run_started_ms").to_pylist()
    runs = pc.struct_field(prov, "run_id").to_pylist()
    return [recency({"run_id": r, "run_started_ms": s}) for r, s in zip(runs, started, strict=True)]


def _dedupe(table: pa.Table, key: str) -> tuple[pa.Table, int]:
    """One row per id: the newest run's (as build chooses), else the first. Ids repeat
    after an interrupted compaction (same rows) or a rerun with --force."""
    best: dict[object, tuple[tuple[bool, int, str], int]] = {}
    for i, (value, run) in enumerate(zip(table[key].to_pylist(), _recencies(table), strict=True)):
        if value not in best or run > best[value][0]:
            best[value] = (run, i)
    keep = sorted(i for _, i in best.values())
    kept = table.take(pa.array(keep, pa.int64())) if len(keep) < len(table) else table
    return kept, len(table) - len(kept)


def _drop_leftovers(out: str, table: str) -> int:
    """Temporary files a killed compact left (it holds the lock: no writer is mid-way)."""
    leftovers = storage.glob(f"{table_dir(out, table)}/**.parquet{TMP}")
    if leftovers:
        FileSystems.delete(leftovers)
    return len(leftovers)


def compact_table(out: str, table: str, rows_per_file: int = 5_000_000) -> CompactSummary:
    finish_swap(out, table)
    _drop_leftovers(out, table)
    files = table_files(out, table)
    by_folder: dict[str, list[str]] = defaultdict(list)
    for f in files:
        by_folder[f.rsplit("/", 1)[0]].append(f)
    after, rows, dropped = 0, 0, 0
    renames: list[tuple[str, str]] = []
    deletes: list[str] = []
    stamp = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    for folder, group in sorted(by_folder.items()):
        merged = pa.concat_tables([read_file(f, table) for f in group])
        if len(group) == 1 and len(merged) <= rows_per_file:
            after += 1
            rows += len(merged)
            continue
        merged, n_dupes = _dedupe(merged, ID_COLUMN[table])
        dropped += n_dupes
        rows += len(merged)
        parts = max(1, -(-len(merged) // rows_per_file))
        for i in range(parts):
            chunk = merged.slice(i * rows_per_file, rows_per_file)
            path = storage.join(folder, f"compact-{stamp}-{i:05d}-of-{parts:05d}.parquet")
            _write_tmp(f"{path}{TMP}", chunk)
            renames.append((f"{path}{TMP}", path))
            after += 1
        deletes += group
    if renames:
        journal = storage.join(table_dir(out, table), JOURNAL)
        storage.write_text(f"{journal}{TMP}", json.dumps({"renames": renames, "deletes": deletes}))
        FileSystems.rename([f"{journal}{TMP}"], [journal])  # the swap is decided here
        finish_swap(out, table)
    return CompactSummary(table, len(files), after, rows, dropped)


def finish_swap(out: str, table: str) -> bool:
    """Carry out a journal a killed compact left (each step is safe to repeat); whether
    there was one."""
    journal = storage.join(table_dir(out, table), JOURNAL)
    if not storage.exists(journal):
        return False
    plan = json.loads(storage.read_text(journal))
    for tmp, final in plan["renames"]:
        if storage.exists(tmp):
            FileSystems.rename([tmp], [final])
    gone = [f for f in plan["deletes"] if storage.exists(f)]
    if gone:
        FileSystems.delete(gone)
    FileSystems.delete([journal])
    return True


def check_swapped(out: str, tables: tuple[str, ...] = TABLES) -> None:
    """Readers (build) refuse annotations whose compact was killed mid-swap."""
    for table in tables:
        if storage.exists(storage.join(table_dir(out, table), JOURNAL)):
            raise commit.RunInProgress(
                f"{out}: a compact of its {table} was killed while swapping files (old and "
                f"merged rows are side by side); run ominous compact {out} to finish it"
            )


def _write_tmp(path: str, data: pa.Table) -> None:
    with FileSystems.create(path) as f:
        pq.write_table(data, f, compression="zstd", row_group_size=ROW_GROUP_ROWS)


def compact(
    out: str, tables: tuple[str, ...] = TABLES, rows_per_file: int = 5_000_000
) -> list[CompactSummary]:
    """Holds OUT like an annotate does: merging shards a wave is publishing would lose rows.
    A file holds at least one row: anything less is a usage error, refused before OUT is
    touched (a negative slice would write empty files and delete the originals)."""
    if isinstance(rows_per_file, bool) or not isinstance(rows_per_file, int) or rows_per_file < 1:
        raise UsageError(
            f"--rows-per-file must be a whole number of at least 1, not {rows_per_file!r}"
        )
    with commit.exclusive(out):
        return [
            compact_table(out, t, rows_per_file)
            for t in tables
            if storage.exists(table_dir(out, t))
        ]
