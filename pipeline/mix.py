"""The mix phase: samples (+ a replay set) and a recipe -> one mixture, with DuckDB.

Draws are exact (largest remainder), without replacement unless asked, and deterministic for
a seed: each component orders its candidates by md5(sample_id, seed) and takes the first n.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import yaml
from tqdm import tqdm

from pipeline.core.recipes import REPLAY, Recipe, RecipeError
from pipeline.errors import listing
from pipeline.io import publish
from pipeline.io.commit import check_published
from pipeline.io.parquet import table_files
from pipeline.io.replay import read_replay, resolve_media


@dataclass(frozen=True)
class MixSummary:
    out: str
    recipe: str
    counts: dict[str, int]
    replay: int


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _draw_order(key: str, seed: int) -> str:
    return f"md5({key} || ':' || {int(seed)})"


def _shortfall(letter: str, tasks: tuple[str, ...], want: int, have: int, split: str) -> str:
    what = "the replay set" if letter == REPLAY else f"tasks {', '.join(tasks)}"
    return (
        f"component {letter} needs {want} samples but {what} has {have} in split "
        f"'{split}': lower the size, build from more videos, or pass --allow-repeat"
    )


def _replicas(want: int, have: int, allow_repeat: bool, message: str) -> int:
    """How many passes over the candidates a draw of `want` needs."""
    if want <= have:
        return 1
    if not allow_repeat or have == 0:
        raise RecipeError(message)
    return -(-want // have)


def mix(
    samples: str,
    recipe: Recipe,
    out: str,
    seed: int = 0,
    replay: str | None = None,
    split: str = "train",
    allow_repeat: bool = False,
    replay_limit: int | None = None,
    replay_root: str | None = None,
) -> MixSummary:
    """Draw into a hidden sibling folder, then publish its files into OUT as one unit
    (io/publish.py), one mix per OUT at a time: a mix that fails leaves OUT as it was, one
    killed while publishing leaves OUT marked, which export refuses. `replay_limit`: a "+Nk"
    recipe's whole replay set is its first `replay_limit` rows in the seeded order (an
    experiment's --scale)."""
    final = Path(out)
    with publish.folder_lock(final, "mix"):
        work = final.parent / f".{final.name}.partial-{uuid.uuid4().hex[:8]}"
        work.mkdir(parents=True)
        try:
            summary = _mix(
                samples, recipe, work, seed, replay, split, allow_repeat, replay_limit, replay_root
            )
            names = ("mixture.parquet", "replay.jsonl", "mixture.yaml")
            publish.publish(
                final,
                {n: work / n for n in names if (work / n).exists()},
                remove=[n for n in names if not (work / n).exists()],
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return replace(summary, out=out)


def _samples_view(samples: str, recipe: Recipe, replay: str | None) -> duckdb.DuckDBPyConnection:
    """A connection with the samples as a view, once the recipe's inputs are known to be
    there (the replay file when it draws replay; samples built with variants when it picks
    one)."""
    check_published(samples)  # a build killed while publishing: its rows are half there
    files = [str(f) for f in table_files(samples, "samples")]
    counts = recipe.counts()
    if REPLAY in counts and counts[REPLAY] and not replay:
        raise RecipeError(
            f"{recipe.name} draws {counts[REPLAY]} replay samples (O): pass "
            "--replay FILE (LLaVA/LongVA JSON or JSONL)"
        )
    if recipe.replay_all and not replay:
        raise RecipeError(f"{recipe.name} adds to a replay set: pass --replay FILE")
    if not files and any(n for letter, n in counts.items() if letter != REPLAY):
        raise RecipeError(f"no samples table in {samples}: run build first")
    con = duckdb.connect()
    if files:
        listed = ", ".join(_quote(f) for f in files)
        con.execute(
            f"CREATE VIEW samples AS SELECT * FROM read_parquet([{listed}], "
            "hive_partitioning = true, union_by_name = true)"
        )
    columns = {c[0] for c in con.execute("DESCRIBE samples").fetchall()} if files else set()
    if recipe.variants and "variant" not in columns:
        raise RecipeError(
            f"{recipe.name} picks a task variant "
            f"({', '.join(f'{t}={v}' for t, v in recipe.variants)}) but "
            f"{samples} was built before samples had variants: build it again"
        )
    return con


def _where(recipe: Recipe, letter: str, split: str) -> str:
    tasks = recipe.tasks(letter)
    task_list = ", ".join(_quote(t) for t in tasks)
    return f"task IN ({task_list}) AND split = {_quote(split)}" + "".join(
        f" AND (task <> {_quote(t)} OR variant = {_quote(v)})"
        for t, v in recipe.variants
        if t in tasks
    )


def check_counts(
    samples: str,
    recipe: Recipe,
    replay_rows: int | None,
    split: str = "train",
    allow_repeat: bool = False,
) -> dict[str, int]:
    """What mix would draw per component, raising mix's own RecipeError where the samples
    (or `replay_rows` replay records) are too few; writes nothing."""
    con = _samples_view(samples, recipe, "given" if replay_rows is not None else None)
    counts = recipe.counts()
    for letter, want in counts.items():
        if want == 0:
            continue
        if letter == REPLAY:
            have = replay_rows or 0
            _replicas(want, have, allow_repeat, _shortfall(REPLAY, (), want, have, "replay"))
            continue
        where = _where(recipe, letter, split)
        have = con.execute(f"SELECT count(*) FROM samples WHERE {where}").fetchone()[0]
        _replicas(
            want, have, allow_repeat, _shortfall(letter, recipe.tasks(letter), want, have, split)
        )
    return counts


def _mix(
    samples: str,
    recipe: Recipe,
    target: Path,
    seed: int,
    replay: str | None,
    split: str,
    allow_repeat: bool,
    replay_limit: int | None = None,
    replay_root: str | None = None,
) -> MixSummary:
    con = _samples_view(samples, recipe, replay)
    counts = recipe.counts()
    parts = []
    for letter, want in tqdm(
        counts.items(), desc=f"mix {recipe.name}", unit="component", disable=None
    ):
        if letter == REPLAY or want == 0:
            continue
        tasks = recipe.tasks(letter)
        where = _where(recipe, letter, split)
        have = con.execute(f"SELECT count(*) FROM samples WHERE {where}").fetchone()[0]
        passes = _replicas(want, have, allow_repeat, _shortfall(letter, tasks, want, have, split))
        # Choose ids first (narrow rows sort cheaply), then fetch the chosen rows.
        parts.append(f"""
            SELECT * FROM (
              SELECT s.sample_id, {_quote(letter)} AS component, r.pass
              FROM (SELECT sample_id FROM samples WHERE {where}) s, range({passes}) r(pass)
              ORDER BY r.pass, {_draw_order("s.sample_id", seed)}
              LIMIT {want})""")
    rows = 0
    mixture = target / "mixture.parquet"
    if parts:
        union = " UNION ALL ".join(parts)
        con.execute(f"""COPY (
            SELECT s.* REPLACE ({_quote(recipe.name)} AS mixture), p.component, p.pass
            FROM ({union}) p JOIN samples s USING (sample_id)
            ORDER BY p.component, {_draw_order("p.sample_id", seed)}, p.pass
        ) TO {_quote(str(mixture))} (FORMAT parquet, COMPRESSION zstd)""")
        rows = con.execute(f"SELECT count(*) FROM {_quote(str(mixture))}").fetchone()[0]
    n_replay = _write_replay(
        target, recipe, counts.get(REPLAY, 0), replay, seed, allow_repeat, replay_limit, replay_root
    )
    real = {letter: n for letter, n in counts.items() if letter != REPLAY}
    if recipe.replay_all or REPLAY in counts:
        real[REPLAY] = n_replay
    (target / "mixture.yaml").write_text(
        yaml.safe_dump(
            {
                "recipe": recipe.name,
                "size": recipe.size,
                "seed": seed,
                "split": split,
                "allow_repeat": allow_repeat,
                "samples": samples,
                "replay": replay,
                "counts": real,
                "weights": dict(recipe.weights),
                "rows": rows + n_replay,
                "variants": dict(recipe.variants),
            },
            sort_keys=False,
        )
    )
    return MixSummary(str(target), recipe.name, real, n_replay)


def _write_replay(
    target: Path,
    recipe: Recipe,
    want: int,
    replay: str | None,
    seed: int,
    allow_repeat: bool,
    limit: int | None = None,
    root: str | None = None,
) -> int:
    """Replay rows pass through with their media paths made absolute (their order and
    choice are seeded); `root`: where relative paths start, default the replay's folder."""
    path = target / "replay.jsonl"
    if replay is None:
        return 0
    records = read_replay(replay)
    import hashlib

    def order(i: int, rec: dict[str, Any]) -> str:
        key = f"{rec.get('id', i)}:{seed}"
        return hashlib.md5(key.encode("utf-8")).hexdigest()

    ranked = [rec for _, rec in sorted(enumerate(records), key=lambda ir: order(*ir))]
    if recipe.replay_all:
        chosen: list[dict[str, Any]] = records if limit is None else ranked[:limit]
    else:
        passes = _replicas(
            want, len(ranked), allow_repeat, _shortfall(REPLAY, (), want, len(ranked), "replay")
        )
        chosen = (ranked * passes)[:want]
    start = Path(root) if root else Path(replay).resolve().parent
    chosen, missing = resolve_media(chosen, start)
    if missing:
        raise RecipeError(
            f"{len(missing)} replay media paths are no file under {start}:\n{listing(missing)}"
            "\npass --replay-root (the folder the replay's relative paths start from)"
        )
    with path.open("w", encoding="utf-8") as f:
        for rec in tqdm(chosen, desc="replay rows", unit="row", disable=None):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return len(chosen)
