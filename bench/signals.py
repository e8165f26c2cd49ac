"""What the curation signals cost, as a share of annotate's wall time on CPU (goal <= 15%).

Whole annotate runs on synthetic speaking videos in one process after a warm-up run (models
loaded, as on a long-lived worker): with keyframe inspection (tesseract OCR, OpenCV faces,
dHash on 1 keyframe per clip, the default) and without it (--inspect-keyframes 0). The speech
signals and the text language run in both; their own time is measured apart.
Captions are dry-run and open_clip is off.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _annotate(media: Path, out: Path, inspect: int) -> float:
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
            "--inspect-keyframes",
            str(inspect),
            "--wave-size",
            "0",
        ]
    )
    if status != cli.EXIT_OK:
        raise SystemExit(f"annotate failed with exit {status}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does the bench work")
    args = parser.parse_args()
    if args.smoke:
        args.copies, args.repeats = 1, 1
    from pipeline import synthetic
    from pipeline.core.signals import sentence_signals, speech_signals
    from pipeline.io.parquet import read_table
    from pipeline.models.langid import LangIdHandler, identify

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        media, warm = root / "media", root / "warm"
        warm.mkdir()
        for k in range(args.copies):
            for spec in synthetic.speaking_corpus()[: 1 if args.smoke else None]:
                synthetic.make_video(spec, media / f"copy{k}")
        for f in media.rglob("*.truth.json"):
            f.unlink()
        first = next(media.rglob("*.mp4"))
        os.link(first, warm / first.name)
        if not args.smoke:  # (a smoke run only checks the bench works)
            _annotate(warm, root / "out-warm", 1)
        runs: dict[int, list[float]] = {0: [], 1: []}
        for k in range(args.repeats):  # interleaved, medians: runs in one process drift
            for inspect in (0, 1):
                runs[inspect].append(_annotate(media, root / f"out-{inspect}-{k}", inspect))
        without, with_ = (statistics.median(runs[0]), statistics.median(runs[1]))
        sentences = read_table(str(root / "out-1-0"), "sentences").to_pylist()
        identifier = LangIdHandler().load_model()
        started = time.perf_counter()
        for s in sentences:
            sentence_signals(
                s["text"], [w["score"] or 0 for w in s["words"]], s["start_ms"], s["end_ms"]
            )
        texts = [s["text"] for s in sentences]
        speech_signals(texts, [0.9] * len(texts), 10_000, 20_000)
        identify(" ".join(texts), identifier)
        speech_s = time.perf_counter() - started
        clips = read_table(str(root / "out-1-0"), "clips", ["clip_id"]).num_rows
    share = (with_ - without) / with_
    print(
        f"{clips} clips; annotate without keyframe inspection {without:.1f} s, with "
        f"{with_:.1f} s (medians of {args.repeats}; all: {runs}): inspection {share:.1%} of "
        "the wall time (goal <= 15%)"
    )
    print(
        f"speech signals and text language for {len(sentences)} sentences: "
        f"{speech_s * 1000:.1f} ms ({speech_s / with_:.2%})"
    )


if __name__ == "__main__":
    main()
