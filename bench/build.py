"""The build phase on a synthetic annotation set (generated rows, no media), against DuckDB.

Writes videos/sentences/clips tables for N videos (default 10,000; each 60 s, 8 sentences,
6 clips with 5 cuts), runs `ominous build` in a fresh process (DirectRunner; peak RSS from
the process's rusage), and prints samples per second next to one DuckDB SQL query that
produces the tsg_dialogue rows (both directions) from the same tables and writes them to
Parquet: the floor for "read, join, write" on this machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from measure import run_measured

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # schema_rows

WORDS = ("cut", "the", "onion", "slowly", "then", "stir", "pan", "gently", "with", "a", "spoon")


def _prov(run: str) -> dict:
    return {
        "pipeline_version": "0.1.0",
        "run_id": run,
        "config_hash": "bench",
        "asr_model": "tiny.en",
        "asr_backend": None,
        "word_timing": None,
        "segmenter": None,
        "caption_model": "bench-vlm",
        "prompt_id": "clip-caption-v1",
        "prompt_hash": None,
        "clip_model": None,
        "scene_detector": None,
        "frame_fps": 1.0,
        "seed": None,
    }


def write_annotations(out: Path, n_videos: int) -> None:
    from schema_rows import conform

    prov = _prov("bench-run")
    videos, sentences, clips = [], [], []
    for v in range(n_videos):
        vid = f"vid{v:06d}"
        videos.append(
            {
                "video_id": vid,
                "source_uri": f"https://example.org/{vid}",
                "duration_ms": 60_000,
                "media_uri": f"media/{vid}.mp4",
                "sha256": "0" * 64,
                "split": "train",
                "keywords": ["cooking"],
                "channel_id": f"ch{v % 500}",
                "provenance": prov,
            }
        )
        for i in range(8):
            a = 1000 + i * 7200 + (v * 37 + i * 11) % 900
            text = " ".join(WORDS[(v + i + k) % len(WORDS)] for k in range(7)).capitalize()
            sentences.append(
                {
                    "sentence_id": f"{vid}:s{i}",
                    "video_id": vid,
                    "index": i,
                    "start_ms": a,
                    "end_ms": a + 3500,
                    "text": text + ".",
                    "words": [],
                    "split": "train",
                    "interpolated_fraction": 0.0,
                    "provenance": prov,
                }
            )
        for i in range(6):
            clips.append(
                {
                    "clip_id": f"{vid}:c{i}",
                    "video_id": vid,
                    "index": i,
                    "start_ms": i * 10_000,
                    "end_ms": (i + 1) * 10_000,
                    "scene_boundary": i > 0,
                    "keyframe_ms": [i * 10_000],
                    "caption": f"A cook works at the stove in scene {'abcdef'[i]}.",
                    "caption_model": "bench-vlm",
                    "split": "train",
                    "provenance": prov,
                }
            )
    for table, rows in (("videos", videos), ("sentences", sentences), ("clips", clips)):
        (out / table).mkdir(parents=True, exist_ok=True)
        pq.write_table(conform(rows, table), out / table / "bench-00000-of-00001.parquet")


DUCKDB_TSG = """
COPY (
  SELECT s.sentence_id || d.dir AS sample_id, 'tsg_dialogue' AS task, v.split, s.video_id,
         s.start_ms, s.end_ms,
         printf('%.1f-%.1f seconds', s.start_ms / 1000, s.end_ms / 1000) || ': ' || s.text
           AS answer
  FROM read_parquet('{out}/sentences/*.parquet') s
  JOIN read_parquet('{out}/videos/*.parquet') v USING (video_id)
  CROSS JOIN (VALUES ('/span-to-text'), ('/text-to-span')) d(dir)
) TO '{target}' (FORMAT parquet, COMPRESSION zstd)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does the bench work")
    args = parser.parse_args()
    if args.smoke:
        args.videos = 20
    import duckdb

    work = Path(tempfile.mkdtemp(prefix="ominous-bench-build-"))
    annotations = work / "annotations"
    write_annotations(annotations, args.videos)

    start = time.perf_counter()
    report, peak_mb = run_measured(
        [
            "-m",
            "pipeline",
            "build",
            "--annotations",
            str(annotations),
            "--out",
            str(work / "samples"),
        ]
    )
    build_s = time.perf_counter() - start
    total = int(report.split("->")[1].split()[0])
    tsg = int(
        next(
            line.split()[-1]
            for line in report.splitlines()
            if line.strip().startswith("tsg_dialogue")
        )
    )

    con = duckdb.connect()
    start = time.perf_counter()
    con.execute(DUCKDB_TSG.format(out=annotations, target=work / "duckdb_tsg.parquet"))
    duck_s = time.perf_counter() - start
    duck_rows = con.execute(f"SELECT count(*) FROM '{work / 'duckdb_tsg.parquet'}'").fetchone()[0]

    print(f"{args.videos} videos, {total} samples of 9 tasks ({tsg} tsg_dialogue)")
    print(
        f"  ominous build (DirectRunner, one process): {build_s:7.1f} s  "
        f"{total / build_s:9.0f} samples/s  peak RSS {peak_mb} MB"
    )
    print(
        f"  DuckDB SQL, tsg_dialogue only:             {duck_s:7.2f} s  "
        f"{duck_rows / duck_s:9.0f} rows/s"
    )
    print(
        f"  ratio (build samples/s over DuckDB rows/s): "
        f"{(total / build_s) / (duck_rows / duck_s):.4f}"
    )


if __name__ == "__main__":
    main()
