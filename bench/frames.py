"""SampleFrames against `ffmpeg -vf fps=1` on the same file, and peak memory by video length.

Speed: frames per second of video sampled at 1 fps by the stage's decoder (decord, decoded
timestamps, 224-pixel long side) over the same work done by an ffmpeg process
(`-vf fps=1,scale=224:-2` to raw RGB in memory). Goal: ratio >= 1.0. Each is the median of a
few runs.

Memory: peak RSS of a fresh process that samples a short and a long video; frames are decoded
in chunks, so the long one should need about the same (its outputs are a few KB per frame).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from measure import median_time, run_measured

from pipeline import synthetic

SAMPLE_SNIPPET = """
import sys
from pipeline.records import MediaFile, Probe, Source, Video
from pipeline.stages.frames import FrameConfig, sample_frames
path = sys.argv[1]
video = Video(MediaFile(Source(path, "file"), "bench", path),
              Probe(0, 0, None, None, None, None, None, None, None, 0, 0), "", "train")
print(len(sample_frames(video, FrameConfig(), None).frame_ms))
"""


def make_video(path: Path, seconds: int, size: str) -> Path:
    if not path.exists():
        source = f"testsrc2=size={size}:rate=30000/1001"
        synthetic.ffmpeg(
            *("-f", "lavfi", "-i", source, "-t", str(seconds), "-c:v", "libx264"),
            *("-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", str(path)),
        )
    return path


def peak_rss_mb(path: Path) -> tuple[float, str]:
    out, peak = run_measured(["-c", SAMPLE_SNIPPET, str(path)])
    return peak, out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--long-seconds", type=int, default=1200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does the bench work")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.long_seconds, args.repeats = 3, 6, 1

    from pipeline.records import MediaFile, Probe, Source, Video
    from pipeline.stages.frames import FrameConfig, sample_frames

    work = Path(tempfile.gettempdir()) / "ominous-bench-frames"
    work.mkdir(exist_ok=True)
    clip = make_video(work / f"hd-{args.seconds}s.mp4", args.seconds, "1280x720")
    path = str(clip)
    video = Video(
        MediaFile(Source(path, "file"), "bench", path),
        Probe(0, 0, None, None, None, None, None, None, None, 0, 0),
        "",
        "train",
    )
    counted: dict[str, int] = {}

    def stage() -> None:
        counted["stage"] = len(sample_frames(video, FrameConfig(), None).frame_ms)

    def ffmpeg() -> None:
        raw = subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-i",
                path,
                "-vf",
                "fps=1,scale=224:-2",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-",
            ],
            check=True,
            capture_output=True,
        ).stdout
        counted["ffmpeg"] = len(raw) // (224 * 126 * 3)

    t_stage = median_time(stage, args.repeats)
    t_ffmpeg = median_time(ffmpeg, args.repeats)
    print(f"{args.seconds} s 1280x720 at 29.97 fps, sampled at 1 fps to 224 px:")
    print(f"  SampleFrames (decord)   {t_stage:6.2f} s  {counted['stage'] / t_stage:7.1f} frames/s")
    print(
        f"  ffmpeg -vf fps=1        {t_ffmpeg:6.2f} s  {counted['ffmpeg'] / t_ffmpeg:7.1f} frames/s"
    )
    print(
        f"  speed ratio (stage frames/s over ffmpeg frames/s): "
        f"{(counted['stage'] / t_stage) / (counted['ffmpeg'] / t_ffmpeg):.2f}  (goal >= 1.0)"
    )

    short = make_video(work / "sd-120s.mp4", 120, "640x360")
    long = make_video(work / f"sd-{args.long_seconds}s.mp4", args.long_seconds, "640x360")
    rss_short, n_short = peak_rss_mb(short)
    rss_long, n_long = peak_rss_mb(long)
    print(
        f"peak RSS, 640x360: 120 s video ({n_short} frames) {rss_short:.0f} MB; "
        f"{args.long_seconds} s video ({n_long} frames) {rss_long:.0f} MB; "
        f"ratio {rss_long / rss_short:.2f}"
    )


if __name__ == "__main__":
    main()
