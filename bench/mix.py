"""`ominous mix` for ORNS1111 (100k) over 1M sample rows, against one DuckDB SQL query that
does the same sampling (seeded order per component, first n) and writes the same Parquet.

Sample rows are tiled from real builder output (so turns and provenance have their real
shape) to the wanted count; the replay set is 100k generated LLaVA records. The mix runs in a
fresh process (peak RSS from its rusage); the baseline in this one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from measure import run_measured


def make_samples(root: Path, n_rows: int) -> None:
    from schema_rows import conform
    from test_tasks import TABLES, _info

    from pipeline.core.tasks import BuildConfig, build_video

    base = build_video(_info(TABLES, "v1"), BuildConfig())
    template = root / "template.parquet"
    pq.write_table(conform(base, "samples"), template)
    copies = -(-n_rows // len(base))
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT * REPLACE (sample_id || '-' || i AS sample_id, video_id || '-' || i AS video_id)
        FROM '{template}', range({copies}) r(i) LIMIT {n_rows}
    ) TO '{root / "samples"}' (FORMAT parquet, PARTITION_BY (task), COMPRESSION zstd)""")
    template.unlink()


BASELINE = """
COPY (
  WITH parts AS (
    SELECT *, CASE task WHEN 'rev' THEN 'R' WHEN 'noise' THEN 'N' WHEN 'stop' THEN 'S' END
              AS component
    FROM read_parquet('{root}/samples/*/*.parquet', hive_partitioning = true)
    WHERE task IN ('rev', 'noise', 'stop') AND split = 'train'
  ), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY component ORDER BY md5(sample_id || ':0')) AS k
    FROM parts
  )
  SELECT * EXCLUDE (k) FROM ranked WHERE k <= {per}
) TO '{target}' (FORMAT parquet, COMPRESSION zstd)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--size", default="100k")
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does the bench work")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.size = 4000, "1k"
    work = Path(tempfile.mkdtemp(prefix="ominous-bench-mix-"))
    make_samples(work, args.rows)
    replay = work / "replay.jsonl"
    replayed = 1000 if args.smoke else 100_000
    (work / "v").mkdir()
    with replay.open("w") as f:
        for i in range(replayed):
            (work / "v" / f"{i}.mp4").touch()  # mix resolves each replay video to a file
            f.write(
                json.dumps(
                    {
                        "id": f"r{i}",
                        "video": f"v/{i}.mp4",
                        "conversations": [
                            {"from": "human", "value": "<video>\nWhat happens?"},
                            {"from": "gpt", "value": "Someone cooks."},
                        ],
                    }
                )
                + "\n"
            )
    recipe = f"ORNS1111 ({args.size})"
    start = time.perf_counter()
    report, peak_mb = run_measured(
        [
            "-m",
            "pipeline",
            "mix",
            "--samples",
            str(work),
            "--recipe",
            recipe,
            "--replay",
            str(replay),
            "--out",
            str(work / "mix"),
        ]
    )
    mix_s = time.perf_counter() - start
    per = int(args.size.rstrip("kK")) * 1000 // 4 if args.size[-1] in "kK" else int(args.size) // 4
    start = time.perf_counter()
    duckdb.connect().execute(BASELINE.format(root=work, per=per, target=work / "base.parquet"))
    base_s = time.perf_counter() - start
    print(f"{args.rows} sample rows, recipe {recipe}, {replayed} replay records")
    print(
        f"  ominous mix (own process, incl. start-up and replay): {mix_s:6.2f} s  "
        f"peak RSS {peak_mb} MB\n    {report.strip()}"
    )
    print(f"  DuckDB SQL, same sampling of R, N, S only:            {base_s:6.2f} s")
    print(f"  ratio (mix time over baseline time): {mix_s / base_s:.2f}")


if __name__ == "__main__":
    main()
