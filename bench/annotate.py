"""Whole annotate runs on synthetic speaking videos: how many times real time the CPU path
annotates, and what committing one wave per video costs against one wave for all of them.

Both runs happen in this process after a warm-up run, so models are already loaded (as on a
long-lived worker) and the ratio is the cost of waves alone: a pipeline start, its commit
and the done-check per wave. Captions are dry-run and open_clip is off: the figure is for
acquire, ASR, sentences, frames and scene cuts.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _annotate(media: Path, out: Path, wave_size: int) -> float:
    from pipeline import cli

    started = time.perf_counter()
    status = cli.main(
        [
            "annotate",
            "--media-dir",
            str(media),
            "--out",
            str(out),
            "--segmenter",
            "punctuation",
            "--clip-model",
            "off",
            "--wave-size",
            str(wave_size),
        ]
    )
    if status != cli.EXIT_OK:
        raise SystemExit(f"annotate failed with exit {status}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--copies", type=int, default=2, help="copies of the three-video speaking corpus"
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does the bench work")
    args = parser.parse_args()
    from pipeline import synthetic
    from pipeline.io.parquet import read_table

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        media, warm = root / "media", root / "warm"
        media.mkdir()
        warm.mkdir()
        corpus = synthetic.speaking_corpus()[: 1 if args.smoke else None]
        for k in range(1 if args.smoke else args.copies):
            for spec in corpus:
                folder = media / f"copy{k}"
                folder.mkdir(exist_ok=True)
                synthetic.make_video(spec, folder)
        for f in media.rglob("*.truth.json"):
            f.unlink()
        first = next(media.rglob("*.mp4"))
        os.link(first, warm / first.name)
        if not args.smoke:  # (a smoke run only checks the bench works)
            _annotate(warm, root / "out-warm", 0)  # loads the models
        one = _annotate(media, root / "out-one", 0)
        per_video = _annotate(media, root / "out-waves", 1)
        videos = read_table(str(root / "out-one"), "videos", ["duration_ms"])
        hours = sum(videos["duration_ms"].to_pylist()) / 3.6e6
        n = videos.num_rows
    print(f"{n} videos, {hours * 60:.2f} min of video")
    print(f"one wave:      {one:6.1f} s  ({hours * 3600 / one:5.2f}x real time)")
    print(f"wave per video:{per_video:6.1f} s  ({hours * 3600 / per_video:5.2f}x real time)")
    print(
        f"ratio waves/one wave: {per_video / one:.2f} "
        f"({(per_video - one) / max(n - 1, 1):.2f} s per extra wave)"
    )


if __name__ == "__main__":
    main()
