"""How long `ominous query` takes to answer on an OUT against a bare DuckDB query in a fresh
process: a reading command should import only what reading needs (goal: <= 3x).

usage: python bench/query_start.py [--repeats N]   (--smoke: one of each)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time


def _seconds(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    repeats = 1 if args.smoke else args.repeats
    with tempfile.TemporaryDirectory() as out:  # an OUT whose tables are all empty views
        query = [sys.executable, "-m", "pipeline", "query", out, "SELECT count(*) FROM videos"]
        ours = _seconds(query, repeats)
    bare = _seconds(
        [sys.executable, "-c", "import duckdb; duckdb.sql('SELECT 1').fetchall()"], repeats
    )
    print(f"ominous query {ours:.2f} s, bare duckdb {bare:.2f} s: {ours / bare:.1f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
