"""Synthetic test videos with known ground truth: scenes with hard cuts and spoken sentences.

Shared by the tests, the demo and the benchmarks. Video comes from ffmpeg's lavfi test
sources, speech from espeak-ng placed at chosen offsets; the truth (sentence texts and their
audible start/end, cut times on the frame grid) is measured from what was actually written.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import math
import subprocess
import tempfile
import threading
import wave
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from pipeline.core.near_duplicates import Fingerprint

SPEECH_RATE = 22_050  # espeak-ng's output rate
_SILENCE_THRESHOLD = 200  # int16 amplitude below which espeak output counts as silence


@dataclass(frozen=True)
class Line:
    text: str
    at_ms: int


@dataclass(frozen=True)
class Spec:
    name: str
    scenes: tuple[tuple[str, int], ...]  # (lavfi source name, duration ms)
    lines: tuple[Line, ...] = ()
    fps: str = "25"
    size: str = "320x240"
    audio: bool = True
    audio_offset_ms: int = 0  # audio starts this much after the first video frame
    voice: str = "en-us"  # espeak-ng voice: another language's speech
    subtitles: bool = False  # burn each line into the picture while it is spoken
    music: bool = False  # a chord track under the lines (alone when there are none)


@dataclass(frozen=True)
class TruthSentence:
    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Truth:
    name: str
    file: str
    duration_ms: int
    cuts_ms: tuple[int, ...]
    sentences: tuple[TruthSentence, ...] = field(default=())

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> Truth:
        doc = json.loads(path.read_text())
        doc["cuts_ms"] = tuple(doc["cuts_ms"])
        doc["sentences"] = tuple(TruthSentence(**s) for s in doc["sentences"])
        return cls(**doc)


FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # Debian's fonts-dejavu-core


TOOL_TIMEOUT_S = 300.0  # a synthetic video takes ffmpeg a few seconds; a hang is an error


def _tool(cmd: list[str], timeout_s: float) -> None:
    """Run a media tool with a deadline; its own last words are the error where it fails."""
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout_s)
    except subprocess.CalledProcessError as exc:
        said = exc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"]
        raise RuntimeError(f"{cmd[0]} failed ({exc.returncode}): {said[-1]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{cmd[0]} took over {timeout_s:g} s") from exc


def ffmpeg(*args: str, timeout_s: float = TOOL_TIMEOUT_S) -> None:
    """`ffmpeg -nostdin -v error -y ARGS`: how the tests, benches and demo make media."""
    _tool(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], timeout_s)


def _speak(text: str, workdir: Path, voice: str = "en-us") -> np.ndarray:
    wav = workdir / "line.wav"
    _tool(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], TOOL_TIMEOUT_S)
    with wave.open(str(wav)) as f:
        if f.getframerate() != SPEECH_RATE or f.getsampwidth() != 2:
            raise RuntimeError("unexpected espeak-ng output format")
        return np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)


def _audible_bounds(samples: np.ndarray) -> tuple[int, int]:
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _SILENCE_THRESHOLD)
    if loud.size == 0:
        return 0, 0
    return int(loud[0]), int(loud[-1]) + 1


def _scene_frames(spec: Spec) -> list[int]:
    rate = Fraction(spec.fps)
    return [math.ceil(Fraction(ms, 1000) * rate) for _, ms in spec.scenes]


def make_video(spec: Spec, out_dir: Path) -> Truth:
    """Write `<name>.mp4` and `<name>.truth.json` into out_dir and return the truth."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rate = Fraction(spec.fps)
    frames = _scene_frames(spec)
    total_frames = sum(frames)
    duration_ms = round(Fraction(total_frames) / rate * 1000)
    cuts = tuple(round(Fraction(sum(frames[:i])) / rate * 1000) for i in range(1, len(frames)))
    target = out_dir / f"{spec.name}.mp4"
    sentences: list[TruthSentence] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        cmd: list[str] = []
        for (source, _), n in zip(spec.scenes, frames, strict=True):
            cmd += [
                "-f",
                "lavfi",
                "-t",
                f"{float(n / rate):.6f}",
                "-i",
                f"{source}=size={spec.size}:rate={spec.fps}",
            ]
        n_scenes = len(spec.scenes)
        chains = "".join(f"[{i}:v]format=yuv420p,setsar=1[v{i}];" for i in range(n_scenes))
        joined = "".join(f"[v{i}]" for i in range(n_scenes))
        graph = f"{chains}{joined}concat=n={n_scenes}:v=1:a=0[v]"
        if spec.subtitles:  # each line on screen from its start for 4 s, as subtitles are
            texts = []
            for i, line in enumerate(spec.lines):
                (tmpdir / f"sub{i}.txt").write_text(line.text)
                a, b = line.at_ms / 1000, line.at_ms / 1000 + 4
                texts.append(
                    f"drawtext=fontfile={FONT}:textfile={tmpdir / f'sub{i}.txt'}:"
                    f"fontsize=16:fontcolor=white:box=1:boxcolor=black:"
                    f"x=(w-text_w)/2:y=h-40:enable='between(t,{a},{b})'"
                )
            graph = graph.replace("[v]", "[raw]") + ";[raw]" + ",".join(texts) + "[v]"
        if spec.audio:
            track_ms = duration_ms - spec.audio_offset_ms
            track = np.zeros(round(track_ms * SPEECH_RATE / 1000), dtype=np.int32)
            if spec.music:  # three sine chords, a second each, over and over
                t = np.arange(len(track)) / SPEECH_RATE
                chord = np.zeros_like(t)
                for k, root in enumerate((220.0, 261.6, 329.6)):
                    on = (np.floor(t) % 3) == k
                    for ratio in (1.0, 1.25, 1.5):
                        chord += on * np.sin(2 * np.pi * root * ratio * t)
                track += (chord * 3000).astype(np.int32)
            for line in spec.lines:
                speech = _speak(line.text, tmpdir, spec.voice)
                lo, hi = _audible_bounds(speech)
                at = round((line.at_ms - spec.audio_offset_ms) * SPEECH_RATE / 1000)
                end = min(at + len(speech), len(track))
                track[at:end] += speech[: end - at]
                sentences.append(
                    TruthSentence(
                        text=line.text,
                        start_ms=line.at_ms + round(lo * 1000 / SPEECH_RATE),
                        end_ms=line.at_ms + round(min(hi, end - at) * 1000 / SPEECH_RATE),
                    )
                )
            wav = tmpdir / "track.wav"
            with wave.open(str(wav), "wb") as f:
                f.setnchannels(1)
                f.setsampwidth(2)
                f.setframerate(SPEECH_RATE)
                f.writeframes(np.clip(track, -32768, 32767).astype(np.int16).tobytes())
            cmd += ["-itsoffset", f"{spec.audio_offset_ms / 1000:.3f}", "-i", str(wav)]
            cmd += [
                "-filter_complex",
                graph,
                "-map",
                "[v]",
                "-map",
                f"{n_scenes}:a",
                "-c:a",
                "aac",
                "-b:a",
                "96k",
            ]
        else:
            cmd += ["-filter_complex", graph, "-map", "[v]"]
        cmd += [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "50",
            "-r",
            spec.fps,
            "-movflags",
            "+faststart",
            str(target),
        ]
        ffmpeg(*cmd)
    truth = Truth(
        name=spec.name,
        file=target.name,
        duration_ms=duration_ms,
        cuts_ms=cuts,
        sentences=tuple(sentences),
    )
    truth.save(out_dir / f"{spec.name}.truth.json")
    return truth


def speaking_corpus() -> tuple[Spec, ...]:
    """Three short videos, each with three sentences and two hard cuts; plus one silent one."""
    return (
        Spec(
            "kitchen",
            (("testsrc2", 6000), ("smptebars", 5000), ("mandelbrot", 5000)),
            (
                Line("Today we are making a simple tomato soup.", 700),
                Line("First, chop the onions into small pieces.", 5600),
                Line("Next we add the garlic and stir it gently.", 11000),
            ),
        ),
        Spec(
            "bicycle",
            (("rgbtestsrc", 5000), ("testsrc", 6000), ("cellauto", 5000)),
            (
                Line("This old bicycle needs a little oil.", 500),
                Line("Turn the wheel slowly while you work.", 5400),
                Line("Then wipe the frame with a clean towel.", 11200),
            ),
            fps="30000/1001",
        ),
        Spec(
            "garden",
            (("mandelbrot", 5000), ("testsrc2", 6000), ("smptehdbars", 5000)),
            (
                Line("Our young plants need water every morning.", 600),
                Line("We dig a small hole by the garden wall.", 5800),
                Line("Then we cover the roots with soil.", 11100),
            ),
            audio_offset_ms=400,
        ),
    )


def curation_corpus() -> tuple[Spec, ...]:
    """Videos a curator must not train on as they are, each with one known fault: speech in
    German (under the English ASR), speech burned into the picture as subtitles, one still
    picture under speech, music with no speech, and a repetition hallucination; `reencode`
    makes the re-upload of a clean one."""
    return (
        Spec(
            "german",
            (("testsrc2", 7000), ("smptebars", 7000)),
            (
                Line("Heute kochen wir eine einfache Suppe mit Tomaten.", 600),
                Line("Zuerst schneiden wir die Zwiebeln in kleine Stücke.", 6400),
            ),
            voice="de",
        ),
        Spec(
            "subtitled",
            (("testsrc2", 8000), ("rgbtestsrc", 8000)),
            (
                Line("Today we are making a simple tomato soup.", 700),
                Line("First chop the onions into small pieces.", 8600),
            ),
            subtitles=True,
        ),
        Spec(
            "still",
            (("smptebars", 16000),),
            (
                Line("This old bicycle needs a little oil.", 500),
                Line("Turn the wheel slowly while you work.", 5400),
                Line("Then wipe the frame with a clean towel.", 11200),
            ),
        ),
        Spec("music", (("testsrc2", 8000), ("cellauto", 8000)), music=True),
        Spec(
            "repeats",
            (("mandelbrot", 8000), ("testsrc", 8000)),
            (Line("NASA, NASA, NASA, NASA, NASA, NASA, NASA, NASA, NASA, NASA.", 800),),
        ),
    )


def reencode(source: Path, target: Path, height: int = 120) -> Path:
    """A re-upload: the same video scaled down and compressed again."""
    ffmpeg(
        *("-i", str(source), "-vf", f"scale=-2:{height}"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-c:a", "aac", "-b:a", "64k"),
        str(target),
    )
    return target


def silent_spec() -> Spec:
    return Spec("quiet", (("testsrc2", 4000), ("smptebars", 4000)))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Requests are not worth a log line each."""


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients (yt-dlp probing a URL) hang up early; that is not an error worth a trace."""


@contextlib.contextmanager
def serve_directory(root: Path, port: int = 0) -> Iterator[str]:
    """Serve a folder on a loopback port for yt-dlp's generic extractor; yields the base URL.

    port 0 picks a free one; a fixed port keeps URLs (and so video ids) the same across runs.
    """
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def fingerprints(n: int, seed: int = 0, max_flips: int = 4) -> list[Fingerprint]:
    """n videos (1-60 min, 10 random keyframe dHashes, half with speech); every tenth is a
    re-upload of an earlier one: a few percent shorter or longer, each hash with up to
    `max_flips` bits flipped, the transcript a few bits off, some keyframes replaced."""
    import random

    rng = random.Random(seed)

    def flip(value: int, bits: int) -> int:  # on the unsigned bits, back to a signed int64
        value &= (1 << 64) - 1
        for k in rng.sample(range(64), bits):
            value ^= 1 << k
        return value - (1 << 64) if value >= 1 << 63 else value

    def rand64() -> int:
        return flip(rng.getrandbits(64), 0)

    out: list[Fingerprint] = []
    for k in range(n):
        if k % 10 == 9:
            src = out[rng.randrange(len(out))]
            hashes = [flip(h, rng.randint(0, max_flips)) for h in src.frame_hashes]
            hashes[rng.randrange(10)] = rand64()  # a keyframe that moved
            text = None if src.transcript is None else flip(src.transcript, rng.randint(0, 6))
            length = round(src.duration_ms * rng.uniform(0.97, 1.03))
            out.append(Fingerprint(f"v{k}", length, 360, tuple(hashes), text))
        else:
            text = rand64() if rng.random() < 0.5 else None
            hashes = tuple(rand64() for _ in range(10))
            out.append(Fingerprint(f"v{k}", rng.randint(60_000, 3_600_000), 720, hashes, text))
    return out
