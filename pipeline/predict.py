"""`ominous eval run`: a model answers an eval prompt set, and its answers are written as the
predictions `ominous eval` scores.

Two back ends, one interface (`chat`, `stream`):
  - `--model-url URL --model NAME`: any OpenAI-compatible chat server (vLLM serving Qwen2-VL,
    Qwen2.5-VL, LLaVA-OneVision ...), through the caption stage's client (its deadline,
    retries and key handling). A chat prompt gets the window's frames and the question; a
    streaming prompt is stepped through on the build's frame grid, and at each step the
    frames so far and the dialogue so far (the user's utterances up to then, the model's
    own earlier replies) go in: an empty reply is silence, any other is written with its
    time.
  - `--model-path DIR`: a local Hugging Face Qwen2-VL checkpoint (pipeline/models/local_vlm.py),
    streaming on one KV cache from step to step.

The run is resumable: each finished sample's lines are appended in one write, then its id to
`PREDICTIONS.done`; a rerun keeps the finished samples and does the rest (a killed run loses at
most the samples in flight, and never leaves a half line). A sample that fails is a row in
`PREDICTIONS.failures.jsonl` with its reason, the run goes on, and the command exits 3. The API
key is read from an environment variable and written nowhere.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from pipeline.core import predict as P
from pipeline.core.captions import CaptionError
from pipeline.core.evaluation import spoken
from pipeline.errors import UsageError

log = logging.getLogger(__name__)


class PredictError(UsageError):
    """The run cannot start as asked: no prompts, no model, an unusable output path."""


@dataclass(frozen=True)
class ShowSettings:
    """What a model is shown: frames per second of video and at most how many at once."""

    fps: float = 2.0
    max_frames: int = 32
    image_size: int = 448
    jpeg_quality: int = 85
    max_tokens: int = 128

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.max_frames < 1 or self.max_tokens < 1:
            raise PredictError("--fps, --max-frames and --max-tokens must be positive")


class Model(Protocol):
    name: str
    concurrency: int

    def chat(self, prompt: dict[str, Any], frames: list[P.Shown]) -> str: ...

    def stream(
        self, prompt: dict[str, Any], frames: list[P.Shown], steps: list[float]
    ) -> list[P.Said]: ...


class ServerModel:
    """An OpenAI-compatible chat server, asked through the caption stage's client."""

    def __init__(
        self,
        url: str,
        model: str,
        settings: ShowSettings,
        api_key_env: str | None,
        timeout_s: float = 120.0,
        retries: int = 4,
        backoff_s: float = 1.0,
        concurrency: int = 8,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        from pipeline.models.vlm import ChatClient

        extra = {"sleep": sleep} if sleep else {}
        self.client = ChatClient(
            url, api_key_env, timeout_s, retries, backoff_s, 60.0, concurrency, **extra
        )
        self.name, self.settings, self.concurrency = model, settings, concurrency

    def _ask(self, messages: list[dict[str, Any]]) -> str:
        body = {
            "model": self.name,
            "messages": messages,
            "max_tokens": self.settings.max_tokens,
            "temperature": 0.0,
        }
        text, _, _ = self.client.complete(body)
        return text.strip()

    def chat(self, prompt: dict[str, Any], frames: list[P.Shown]) -> str:
        question = prompt["messages"][-1]["content"]
        return self._ask(P.chat_messages(frames[-self.settings.max_frames :], question))

    def stream(
        self, prompt: dict[str, Any], frames: list[P.Shown], steps: list[float]
    ) -> list[P.Said]:
        replies: list[P.Said] = []
        for t in steps:
            dialogue = P.dialogue_until(prompt, t, replies)
            text = self._ask(P.stream_messages(frames, dialogue, t, self.settings.max_frames))
            if spoken(text):  # an end token or noise's marker alone is silence
                replies.append(P.Said("assistant", t, text))
        return replies

    def redact(self, text: str) -> str:
        return self.client.redact(text)

    def close(self) -> None:
        self.client.close()


def read_prompts(path: str) -> list[dict[str, Any]]:
    """EVAL/eval_prompts.jsonl (or the EVAL folder)."""
    file = Path(path) / "eval_prompts.jsonl" if Path(path).is_dir() else Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PredictError(f"cannot read eval prompts {file}: {exc}") from exc
    prompts = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise PredictError(f"{file} line {number}: not JSON ({exc})") from exc
        if (
            not isinstance(doc, dict)
            or doc.get("mode") not in ("chat", "stream")
            or not all(k in doc for k in ("sample_id", "video", "video_start", "video_end"))
        ):
            raise PredictError(
                f"{file} line {number}: not an eval prompt (ominous export "
                "--format eval writes them)"
            )
        prompts.append(doc)
    if not prompts:
        raise PredictError(f"{file} holds no prompts")
    return prompts


def shown_times(prompt: dict[str, Any], settings: ShowSettings) -> list[float]:
    """Times (prompt seconds) of the frames shown: every 1/fps s over what the prompt shows
    (the window, or the whole video); a chat prompt keeps at most max_frames, evenly."""
    start, end = prompt["video_start"], prompt["video_end"]
    origin = P.origin_s(prompt)
    times = P.stream_steps(
        {"window": [start, end], "time_reference": "video"},
        Fraction(settings.fps).limit_denominator(1000),
    )
    times = [round(t - origin, 3) for t in times]
    if prompt["mode"] == "chat" and len(times) > settings.max_frames:
        step = len(times) / settings.max_frames
        times = [times[int(k * step)] for k in range(settings.max_frames)]
    return times


def _frames(prompt: dict[str, Any], settings: ShowSettings) -> list[P.Shown]:
    from pipeline.io.video import frames_at

    times = shown_times(prompt, settings)
    origin = P.origin_s(prompt)
    jpegs = frames_at(
        prompt["video"],
        [round((t + origin) * 1000) for t in times],
        settings.image_size,
        settings.jpeg_quality,
    )
    return [P.Shown(t, j) for t, j in zip(times, jpegs, strict=True)]


def answer(model: Model, prompt: dict[str, Any], settings: ShowSettings) -> list[dict[str, Any]]:
    """A prompt's prediction lines."""
    frames = _frames(prompt, settings)
    if prompt["mode"] == "chat":
        return [{"sample_id": prompt["sample_id"], "text": model.chat(prompt, frames)}]
    steps = P.stream_steps(prompt, P.grid_fps(prompt))
    return [
        {"sample_id": prompt["sample_id"], "time": r.time, "text": r.text}
        for r in model.stream(prompt, frames, steps)
    ]


@dataclass(frozen=True)
class RunSummary:
    out: str
    answered: int
    skipped_done: int
    failed: int
    failures: str


# what a failing sample can raise: a request refused or out of retries, media that will not
# decode or open, a model that cannot take the input
FAILURES: tuple[type[BaseException], ...] = (CaptionError, OSError, ValueError, RuntimeError)


def run(
    prompts_path: str, out: str, model: Model, settings: ShowSettings, progress: bool | None = None
) -> RunSummary:
    prompts = read_prompts(prompts_path)
    target = Path(out)
    if target.is_dir():
        raise PredictError(f"--out {out} is a folder: name the predictions file")
    target.parent.mkdir(parents=True, exist_ok=True)
    done_file = target.with_name(target.name + ".done")
    fail_file = target.with_name(target.name + ".failures.jsonl")
    done = P.finished(done_file.read_text(encoding="utf-8")) if done_file.is_file() else set()
    kept = P.kept_lines(target.read_text(encoding="utf-8"), done) if target.is_file() else []
    _replace(target, "".join(line + "\n" for line in kept))  # drop a killed run's leftovers
    _replace(done_file, "".join(json.dumps(d) + "\n" for d in sorted(done)))
    todo = [p for p in prompts if p["sample_id"] not in done]
    lock = threading.Lock()
    failed = 0
    redact = getattr(model, "redact", lambda text: text)
    with (
        target.open("a", encoding="utf-8") as preds,
        done_file.open("a", encoding="utf-8") as dones,
        fail_file.open("w", encoding="utf-8") as fails,
        ThreadPoolExecutor(max_workers=max(1, model.concurrency)) as pool,
        tqdm(
            total=len(todo),
            desc="eval run",
            unit="sample",
            disable=None if progress is None else not progress,
        ) as bar,
    ):
        futures = {pool.submit(answer, model, p, settings): p for p in todo}
        for future in as_completed(futures):
            prompt = futures[future]
            try:
                lines = future.result()
            except FAILURES as exc:
                reason = getattr(exc, "reason", type(exc).__name__)
                row = {
                    "sample_id": prompt["sample_id"],
                    "task": prompt.get("task"),
                    "reason": reason,
                    "message": redact(str(exc))[:500],
                }
                with lock:
                    fails.write(json.dumps(row, ensure_ascii=False) + "\n")
                    fails.flush()
                    failed += 1
                bar.update(1)
                continue
            block = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
            with lock:
                _append(preds, block)
                _append(dones, json.dumps(prompt["sample_id"]) + "\n")
            bar.update(1)
    if not failed:
        fail_file.unlink(missing_ok=True)
    return RunSummary(out, len(todo) - failed, len(prompts) - len(todo), failed, str(fail_file))


def _append(f: Any, text: str) -> None:
    """One write, flushed to disk: a sample's lines land whole or (killed mid-write) are
    dropped by the next run, which keeps only the lines of samples in `.done`."""
    f.write(text)
    f.flush()
    os.fsync(f.fileno())


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
