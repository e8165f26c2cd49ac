"""`ominous annotate` on recorded media against the bare engines, with a profile per stage.

Five recordings made from what `make test` fetches (tests/recorded_media.py): the Big Buck
Bunny trailer (cuts, music), OpenCV's street footage (no audio track), the pyannote phone
call over the street footage, the Czech voice lines and the call over two parts of the
trailer. Models are warm (a first annotate run loads them) and everything runs in this
process, as on a long-lived worker.

  - bare engines: what any pipeline must pay, whisperx's transcribe (the same model and
    options) on each file's audio plus decord decoding the frames at annotate's --frame-fps;
  - annotate: the whole command, dry-run captions, open_clip off (no weights offline);
  - per stage: cumulative seconds in each stage's DoFn under cProfile (a second, profiled
    run: the profiler slows Python-heavy code, so the stages' shares are the figure, and
    "Beam and the driver" is what is left of the profiled run).

usage: python bench/annotate_real.py [--smoke]   (--smoke: 10 s of two recordings)
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]
MEDIA = HERE.parent / ".cache" / "recorded-media"

# stage -> (module file, the DoFn methods that do its work)
STAGES = {
    "acquire": ("stages/acquire.py", ("process",)),
    "transcribe": ("stages/transcribe.py", ("process",)),
    "segment": ("stages/segment.py", ("process",)),
    "frames": ("stages/frames.py", ("process",)),
    "scenes": ("stages/scenes.py", ("process",)),
    "inspect": ("stages/inspect.py", ("process",)),
    "caption": ("stages/caption.py", ("process", "finish_bundle")),
    "score": ("stages/score.py", ("process",)),
    "rows and writes": ("io/table_write.py", ("process",)),
    "commit": ("annotate.py", ("_commit",)),
}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=300)


def recordings(folder: Path, smoke: bool) -> None:
    """The five recordings (two 10 s ones with --smoke) as files in `folder`."""
    from recorded_media import pyannote_sample

    call = pyannote_sample() / "sample.wav"
    trailer, street = MEDIA / "trailer_bbb.mp4", MEDIA / "vtest.avi"
    cut = ["-t", "10"] if smoke else []
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    _ffmpeg("-i", str(trailer), *cut, "-c", "copy", str(folder / "trailer.mp4"))
    _ffmpeg("-i", str(street), *cut, *encode, str(folder / "street.mp4"))
    if smoke:
        return
    for name, video, audio, start in (
        ("call-street.mp4", street, call, "0"),
        ("czech-trailer.mp4", trailer, MEDIA / "czech.ogg", "0"),
        ("call-trailer.mp4", trailer, call, "25"),
    ):
        _ffmpeg(
            *("-ss", start, "-i", str(video), "-i", str(audio)),
            *("-map", "0:v", "-map", "1:a", "-shortest", *encode, str(folder / name)),
        )


def bare_engines(folder: Path, asr, fps: float) -> tuple[float, float]:
    """(seconds transcribing, seconds decoding frames) over every file in `folder`."""
    import whisperx

    from pipeline.core.frames import select_frames
    from pipeline.io.video import CHUNK, import_decord

    decord = import_decord()
    asr_s = frames_s = 0.0
    for path in sorted(folder.iterdir()):
        start = time.perf_counter()
        try:
            audio = whisperx.load_audio(str(path))
        except RuntimeError:  # no audio track: nothing to transcribe
            audio = None
        if audio is not None:
            asr.pipeline.transcribe(
                audio, batch_size=asr.config.batch_size, chunk_size=asr.config.chunk_size
            )
        middle = time.perf_counter()
        reader = decord.VideoReader(str(path))
        first = reader.get_frame_timestamp(0)[0]
        pts = [round((s - first) * 1000) for s, _ in reader.get_frame_timestamp(range(len(reader)))]
        chosen = select_frames(pts, fps)
        for i in range(0, len(chosen), CHUNK):
            reader.get_batch(chosen[i : i + CHUNK]).asnumpy()
        asr_s += middle - start
        frames_s += time.perf_counter() - middle
    return asr_s, frames_s


def annotate(media: Path, out: Path) -> float:
    from pipeline import cli

    start = time.perf_counter()
    argv = ["annotate", "--media-dir", str(media), "--out", str(out), "--clip-model", "off"]
    if cli.main(argv) != cli.EXIT_OK:
        raise SystemExit(f"annotate {media} failed")
    return time.perf_counter() - start


def stage_seconds(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    seconds = dict.fromkeys(STAGES, 0.0)
    for (file, _, function), (_, _, _, cumulative, _) in stats.items():
        for stage, (module, methods) in STAGES.items():
            if file.endswith(f"pipeline/{module}") and function in methods:
                seconds[stage] += cumulative
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--profile", type=Path, help="also save the profile here (pstats)")
    args = parser.parse_args()
    import whisperx

    from pipeline.models.whisper import AsrConfig, SpeechRecognizer
    from pipeline.stages.frames import FrameConfig

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        media, warm = root / "media", root / "warm"
        media.mkdir()
        warm.mkdir()
        recordings(media, args.smoke)
        shutil.copyfile(media / "trailer.mp4", warm / "warm.mp4")
        if not args.smoke:  # (a smoke run only checks the bench works)
            annotate(warm, root / "out-warm")  # loads every model once, as a worker would
        asr = SpeechRecognizer(AsrConfig())
        asr.transcribe_audio(whisperx.load_audio(str(warm / "warm.mp4"))[: 16_000 * 5])
        seconds = sum(
            float(
                subprocess.run(
                    ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                     "csv=p=0", str(f)],
                    capture_output=True, text=True, check=True,
                ).stdout
            )
            for f in media.iterdir()
        )  # fmt: skip
        asr_s, frames_s = bare_engines(media, asr, FrameConfig().fps)
        whole = annotate(media, root / "out")
        profile = cProfile.Profile()
        profile.enable()
        profiled = annotate(media, root / "out-profiled")
        profile.disable()
        if args.profile:
            profile.dump_stats(args.profile)
    bare = asr_s + frames_s
    print(f"five recordings, {seconds:.0f} s of video")
    print(f"bare engines {bare:6.1f} s  (whisperx {asr_s:.1f} s, decord frames {frames_s:.1f} s)")
    print(f"annotate     {whole:6.1f} s  ({whole / bare:.2f}x the bare engines)")
    print(f"profile per stage (one profiled run, {profiled:.1f} s):")
    per_stage = stage_seconds(profile)
    for stage, value in per_stage.items():
        print(f"  {stage:16s} {value:6.2f} s  {value / profiled:6.1%}")
    rest = profiled - sum(per_stage.values())
    print(f"  {'Beam, driver':16s} {rest:6.2f} s  {rest / profiled:6.1%}")


if __name__ == "__main__":
    main()
