"""Peak memory (VmHWM) of one annotate process on a long video: a synthetic speaking video
looped to `--hours` (default 2), against the same video looped to 10 minutes in the same run.
The goal is a peak under 3 GB for 2 h, so long videos are safe on ordinary workers. Captions
are dry-run and open_clip is off: the figure is for acquire, ASR (with its windowed word
timing), sentences, frames and scene cuts.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from measure import run_measured

from pipeline import synthetic

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _looped(source: Path, seconds: float, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    looped = ("-stream_loop", "-1", "-i", str(source), "-t", str(seconds))
    synthetic.ffmpeg(*looped, "-c", "copy", str(dest))
    return dest


def _annotate_peak(media: Path, out: Path) -> tuple[int, float]:
    started = time.perf_counter()
    _, peak = run_measured(
        [
            "-m",
            "pipeline",
            "annotate",
            "--media-dir",
            str(media),
            "--out",
            str(out),
            "--segmenter",
            "punctuation",
            "--clip-model",
            "off",
        ]
    )
    return peak, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does the bench work")
    args = parser.parse_args()
    short_s = 20 if args.smoke else 600
    if args.smoke:
        args.hours = 40 / 3600
    from pipeline import synthetic

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = synthetic.speaking_corpus()[0]
        synthetic.make_video(spec, root / "src")
        source = root / "src" / f"{spec.name}.mp4"
        short = _looped(source, short_s, root / "short" / "ten-minutes.mp4")
        long = _looped(source, args.hours * 3600, root / "long" / "long.mp4")
        peak_short, t_short = _annotate_peak(short.parent, root / "out-short")
        peak_long, t_long = (  # (a smoke run only checks the bench works)
            (peak_short, t_short) if args.smoke else _annotate_peak(long.parent, root / "out-long")
        )
    print(f"10 min video: peak {peak_short} MB, {t_short:.0f} s")
    print(
        f"{args.hours:g} h video:   peak {peak_long} MB, {t_long:.0f} s "
        f"(goal < 3072 MB; ratio to 10 min {peak_long / peak_short:.2f})"
    )


if __name__ == "__main__":
    main()
