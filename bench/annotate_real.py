"""`ominous annotate` on recorded media against the bare engines, with a profile per stage.

Five recordings made from what `make test` fetches (tests/recorded_media.py): the Big Buck
Bunny trailer (cuts, music), OpenCV's street footage (no audio track), the pyannote phone
call over the street footage, the Czech voice lines and the call over two parts of the
trailer. Models are warm (a first annotate run loads them) and everything runs in this
process, as on a long-lived worker.

  - bare engines: what any pipeline must pay, whisperx's transcribe (the same model and
    options) on each file's audio plus decord decoding the frames at annotate's --frame-fps;
  - inspection engines: what keyframe inspection adds to those, called bare on the keyframes
    annotate inspected (decord at 640 px, OpenCV's face cascade, one tesseract per file);
  - annotate: the whole command, dry-run captions, open_clip off (no weights offline), and
    again with --inspect-keyframes 0 (the signals off: what the first two engines face);
  - annotate on two DirectRunner threads (multi_threading, 2 workers): stages of different
    videos at once, on one loaded copy of each model;
  - a run's fixed cost: annotate on one second of the trailer (Beam building and checking
    the graph, the runner, the commit), which a long batch pays once;
  - CPU work: the CPU seconds (every core, child processes included) of the bare engines,
    the inspection engines, annotate with and without inspection, and what that work takes
    at the least with every core busy all the time (the ratio no scheduling can beat);
  - per stage: cumulative seconds in each stage's DoFn under cProfile (a second, profiled
    run: the profiler slows Python-heavy code, so the stages' shares are the figure, and
    "Beam and the driver" is what is left of the profiled run).

Each figure is the fastest of --rounds interleaved rounds: this machine's pace drifts by a
fifth from one minute to the next.

usage: python bench/annotate_real.py [--smoke] [--rounds N]   (--smoke: 10 s of two recordings)
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

from measure import with_cpu

from pipeline.synthetic import ffmpeg

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]
MEDIA = HERE.parent / ".cache" / "recorded-media"

THREADS = ("--direct_running_mode", "multi_threading", "--direct_num_workers", "2")
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


def recordings(folder: Path, smoke: bool) -> None:
    """The five recordings (two 10 s ones with --smoke) as files in `folder`."""
    from recorded_media import pyannote_sample

    call = pyannote_sample() / "sample.wav"
    trailer, street = MEDIA / "trailer_bbb.mp4", MEDIA / "vtest.avi"
    cut = ["-t", "10"] if smoke else []
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    ffmpeg("-i", str(trailer), *cut, "-c", "copy", str(folder / "trailer.mp4"))
    ffmpeg("-i", str(street), *cut, *encode, str(folder / "street.mp4"))
    if smoke:
        return
    for name, video, audio, start in (
        ("call-street.mp4", street, call, "0"),
        ("czech-trailer.mp4", trailer, MEDIA / "czech.ogg", "0"),
        ("call-trailer.mp4", trailer, call, "25"),
    ):
        ffmpeg(
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


def inspection_engines(media: Path, out: Path) -> float:
    """Seconds the inspection engines take, bare, on the keyframes annotate inspected in
    `out`: decoding them at 640 px, the face cascade, one tesseract run per file."""
    from pipeline.io import query
    from pipeline.io.video import FrameReader
    from pipeline.models.faces import FaceDetector
    from pipeline.models.ocr import Ocr
    from pipeline.stages.inspect import InspectConfig, spread

    con = query.connect(str(out))
    rows = con.sql(
        "SELECT v.source_uri, c.keyframe_ms FROM clips c JOIN videos v USING (video_id)"
        " ORDER BY v.source_uri, c.start_ms"
    ).fetchall()
    chosen: dict[str, list[int]] = {}
    for uri, keyframes in rows:
        times = spread(tuple(keyframes), InspectConfig().keyframes)
        chosen.setdefault(uri.rsplit("/", 1)[-1], []).extend(times)
    faces, ocr = FaceDetector(), Ocr()
    start = time.perf_counter()
    for name, times in chosen.items():
        reader = FrameReader(str(media / name), InspectConfig().long_side)
        frames = reader.frames([reader.index_at(t) for t in times])
        for frame in frames:
            faces.largest_face(frame)
        ocr.read_many(list(frames))
    return time.perf_counter() - start


def annotate(media: Path, out: Path, *flags: str) -> float:
    from pipeline import cli

    start = time.perf_counter()
    argv = ["annotate", "--media-dir", str(media), "--out", str(out), "--clip-model", "off"]
    argv += flags
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
    parser.add_argument("--rounds", type=int, default=3, help="each figure is the best of these")
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
        second = root / "second"
        second.mkdir()
        ffmpeg("-i", str(media / "trailer.mp4"), "-t", "1", "-c", "copy", str(second / "s.mp4"))
        if not args.smoke:  # (a smoke run only checks the bench works)
            annotate(warm, root / "out-warm")  # loads every model once, as a worker would
        asr = SpeechRecognizer(AsrConfig())
        asr.transcribe_audio(whisperx.load_audio(str(warm / "warm.mp4"))[: 16_000 * 5])
        count = len(list(media.iterdir()))
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
        times: dict[str, list[float]] = {}
        work: dict[str, list[float]] = {}  # CPU seconds, every core and child process counted
        for n in range(1 if args.smoke else args.rounds):  # interleaved: the CPU's pace drifts
            (asr_s, frames_s), bare_cpu = with_cpu(bare_engines, media, asr, FrameConfig().fps)
            whole, whole_cpu = with_cpu(annotate, media, root / f"out-{n}")
            seeing_s, seeing_cpu = with_cpu(inspection_engines, media, root / f"out-{n}")
            blind, blind_cpu = with_cpu(
                annotate, media, root / f"blind-{n}", "--inspect-keyframes", "0"
            )
            fixed = annotate(second, root / f"second-{n}")
            threaded = annotate(media, root / f"threaded-{n}", *THREADS)
            for name, value in zip(
                ("asr", "frames", "whole", "seeing", "blind", "fixed", "threaded"),
                (asr_s, frames_s, whole, seeing_s, blind, fixed, threaded),
                strict=True,
            ):
                times.setdefault(name, []).append(value)
            for name, value in zip(
                ("bare", "whole", "seeing", "blind"),
                (bare_cpu, whole_cpu, seeing_cpu, blind_cpu),
                strict=True,
            ):
                work.setdefault(name, []).append(value)
        asr_s, frames_s, whole, seeing_s, blind, fixed, threaded = (min(v) for v in times.values())
        bare_cpu, whole_cpu, seeing_cpu, blind_cpu = (min(v) for v in work.values())
        profile = cProfile.Profile()
        profile.enable()
        profiled = annotate(media, root / "out-profiled")
        profile.disable()
        if args.profile:
            profile.dump_stats(args.profile)
    bare = asr_s + frames_s
    print(f"{count} recordings, {seconds:.0f} s of video; the best of {len(times['whole'])} rounds")
    print(f"bare engines {bare:6.1f} s  (whisperx {asr_s:.1f} s, decord frames {frames_s:.1f} s)")
    print(f"  inspection engines {seeing_s:.1f} s more (keyframes at 640 px, faces, tesseract)")
    print(
        f"annotate     {whole:6.1f} s  ({whole / bare:.2f}x the bare engines, "
        f"{whole / (bare + seeing_s):.2f}x them with the inspection engines)"
    )
    print(f"  --inspect-keyframes 0 {blind:.1f} s  ({blind / bare:.2f}x the bare engines)")
    print(
        f"  a run's fixed cost {fixed:.1f} s (annotate on 1 s of video); without it "
        f"{(whole - fixed) / (bare + seeing_s):.2f}x all engines, "
        f"{(blind - fixed) / bare:.2f}x with inspection off"
    )
    print(
        f"  on two DirectRunner threads {threaded:.1f} s  ({threaded / bare:.2f}x the bare "
        f"engines, {threaded / (bare + seeing_s):.2f}x them with the inspection engines)"
    )
    cores = os.cpu_count() or 1
    print(
        f"CPU work (seconds on all {cores} cores): bare engines {bare_cpu:.1f} "
        f"({bare_cpu / bare:.2f} cores busy), inspection engines {seeing_cpu:.1f}, "
        f"annotate {whole_cpu:.1f} ({whole_cpu / whole:.2f} cores busy), "
        f"--inspect-keyframes 0 {blind_cpu:.1f}"
    )
    print(
        f"  annotate's work with every core busy all the time: >= {whole_cpu / cores:.1f} s, "
        f"{whole_cpu / cores / bare:.2f}x the bare engines; the bare engines and the "
        f"inspection engines' work alone: >= {(bare_cpu + seeing_cpu) / cores / bare:.2f}x"
    )
    print(f"profile per stage (one profiled run, {profiled:.1f} s):")
    per_stage = stage_seconds(profile)
    for stage, value in per_stage.items():
        print(f"  {stage:16s} {value:6.2f} s  {value / profiled:6.1%}")
    rest = profiled - sum(per_stage.values())
    print(f"  {'Beam, driver':16s} {rest:6.2f} s  {rest / profiled:6.1%}")


if __name__ == "__main__":
    main()
