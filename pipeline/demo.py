"""`make demo`: synthetic videos served on loopback, annotated, built into samples, then
summarized with DuckDB. Captions come from the dry-run captioner (no VLM here), so the build
keeps flagged samples to show every task type; each such sample says `dry_run_caption`."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline import cli, synthetic
from pipeline.core.render import describe_sample
from pipeline.core.tasks import TASKS
from pipeline.io.parquet import read_table
from pipeline.io.query import connect

SUMMARY_SQL = {
    "videos": "SELECT video_id, duration_ms, fps_num || '/' || fps_den AS fps, audio_offset_ms, "
    "speech_ms, split FROM videos ORDER BY video_id",
    "models that ran": "SELECT DISTINCT provenance.asr_model, provenance.word_timing, "
    "provenance.segmenter FROM videos",
    "sentences": "SELECT video_id, start_ms, end_ms, text FROM sentences "
    "ORDER BY video_id, start_ms",
    "clips": "SELECT video_id, index, start_ms, end_ms, scene_boundary, keyframe_ms, caption "
    "FROM clips ORDER BY video_id, index",
    "vision models": "SELECT DISTINCT provenance.scene_detector, provenance.clip_model, "
    "provenance.caption_model, provenance.prompt_id FROM clips",
    "samples per task and split": "SELECT task, split, count(*) AS n FROM samples "
    "GROUP BY ALL ORDER BY task, split",
    "failures": "SELECT stage, source_uri, error_type, message, attempt FROM failures "
    "ORDER BY failed_at_ms",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-out")
    parser.add_argument("--runner", default="DirectRunner")
    parser.add_argument("--port", type=int, default=8741)
    args = parser.parse_args(argv)
    out = Path(args.out)
    media = out / "sample-media"
    specs = (*synthetic.speaking_corpus(), synthetic.silent_spec())
    for spec in specs:
        if not (media / f"{spec.name}.truth.json").is_file():
            synthetic.make_video(spec, media)
    # A fixed port keeps the URLs, and so the video ids, stable: a second demo run skips them.
    with synthetic.serve_directory(media, port=args.port) as base:
        urls = out / "urls.txt"
        lines = [f"{base}/{spec.name}.mp4" for spec in specs] + [f"{base}/missing-video.mp4"]
        urls.write_text("\n".join(lines) + "\n")
        status = cli.main(
            [
                "run",
                "--urls",
                str(urls),
                "--out",
                str(out / "annotations"),
                "--runner",
                args.runner,
                "--keep-flagged",
                "--overwrite",
            ]
        )
    if status not in (cli.EXIT_OK, cli.EXIT_SOME_INPUTS_FAILED):
        return status
    con = connect(str(out / "annotations"))
    for title, sql in SUMMARY_SQL.items():
        print(f"\n== {title} ==")
        con.sql(sql).show(max_width=160, max_rows=30)
    samples = sorted(
        read_table(str(out / "annotations"), "samples").to_pylist(),
        key=lambda r: (r["video_id"], r["clip_start_ms"], r["sample_id"]),
    )
    print("\n== samples, two of each task ==")
    for task in TASKS:
        for row in [r for r in samples if r["task"] == task][:2]:
            print(describe_sample(row))
    from pipeline.report import write_report

    page = write_report(str(out / "annotations"))
    print(f"\nDataset report: {page}")
    print(
        "\nThe URL list names one video that does not exist on purpose: its 404 is the "
        "failures row above. Query more with: .venv/bin/ominous query "
        f'{out / "annotations"} "SQL"'
    )
    return cli.EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
