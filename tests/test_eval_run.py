"""`ominous eval run`: predictions from a model, on real (generated) media.

The server back end against the test OpenAI-compatible server: chat answers, streaming steps
on the build's frame grid with the dialogue so far, silence, errors and timeouts as failures
rows (exit 3) that a rerun retries, a resumed run that keeps finished samples and drops a
killed run's half-written one, and an API key that reaches no file. The local back end with a
tiny random-weight Qwen2-VL built here: greedy streaming answers with the KV cache equal the
answers recomputed from scratch at every step."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from fake_vllm import serve_fake_vllm
from schema_rows import write_samples
from test_tasks import TABLES, _info

from pipeline import cli, synthetic
from pipeline.core import predict as P
from pipeline.core.tasks import BuildConfig, build_video
from pipeline.evaluate import evaluate, export_eval
from pipeline.predict import ServerModel, ShowSettings, read_prompts, run

MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
DURATIONS_S = {"v1": 20, "one": 8, "empty": 5}


def _video(path: Path, seconds: int) -> None:
    source = f"testsrc=size=112x84:rate=10:duration={seconds}"
    synthetic.ffmpeg("-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", str(path))


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    """(SAMPLES, EVAL, the prompts): the hand-made videos' test samples over real media, with
    8 s windows; a few of each mode keep the request count small."""
    root = tmp_path_factory.mktemp("evalrun")
    media = root / "media"
    media.mkdir()
    for vid, seconds in DURATIONS_S.items():
        _video(media / f"{vid}.mp4", seconds)
    rows = [
        {**r, "split": "test"}
        for v in DURATIONS_S
        for r in build_video(_info(TABLES, v), BuildConfig(window_ms=8000))
    ]
    chosen = (
        [r for r in rows if r["task"] == "tsg_caption"][:2]
        + [r for r in rows if r["task"] == "rev"][:1]
        + [r for r in rows if r["task"] == "stop"][:1]
    )
    samples = write_samples(root / "samples", chosen)
    export_eval(str(samples), str(root / "eval"), video_root=str(media))
    return samples, root / "eval", read_prompts(str(root / "eval"))


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_steps_follow_the_builds_frame_grid() -> None:
    prompt = {"window": [3.5, 6.0], "time_reference": "clip", "stream": []}
    assert P.stream_steps(prompt, Fraction(2)) == [0.0, 0.5, 1.0, 1.5, 2.0]
    on_video = {**prompt, "time_reference": "video"}
    assert P.stream_steps(on_video, Fraction(2)) == [3.5, 4.0, 4.5, 5.0, 5.5]
    ntsc = P.stream_steps({"window": [0.0, 0.2], "time_reference": "clip"}, Fraction(30000, 1001))
    assert ntsc == [0.0, 0.033, 0.067, 0.1, 0.133, 0.167]
    said = P.dialogue_until(
        {"stream": [{"time": 1.0, "content": "hi"}, {"time": 3.0, "content": "later"}]},
        2.0,
        [P.Said("assistant", 1.0, "hello")],
    )
    assert [(s.role, s.time) for s in said] == [("user", 1.0), ("assistant", 1.0)]


def test_server_back_end_answers_steps_and_stays_silent(eval_set, tmp_path) -> None:
    samples, eval_dir, prompts = eval_set
    streaming = [p for p in prompts if p["mode"] == "stream"]
    steps = sum(len(P.stream_steps(p, P.grid_fps(p))) for p in streaming)
    chats = len(prompts) - len(streaming)
    settings = ShowSettings(max_frames=4, image_size=112)
    with serve_fake_vllm(model=MODEL) as (url, state):
        model = ServerModel(url, MODEL, settings, None, concurrency=4)
        summary = run(str(eval_dir), str(tmp_path / "p.jsonl"), model, settings, progress=False)
        model.close()
        assert state.requests == chats + steps  # one request per chat, one per stream step
        assert state.images_seen > 0
    assert summary.answered == len(prompts) and summary.failed == 0
    lines = _lines(tmp_path / "p.jsonl")
    for p in streaming:  # the server always speaks: one reply per step, at the step's time
        mine = [x for x in lines if x["sample_id"] == p["sample_id"]]
        assert [x["time"] for x in mine] == P.stream_steps(p, P.grid_fps(p))
        assert all("test pattern" in x["text"] for x in mine)
    scored = evaluate(str(samples), str(tmp_path / "p.jsonl"), str(tmp_path / "r"))
    assert scored.problems == ()
    # a silent model: the server answers "" at every step
    with serve_fake_vllm(model=MODEL, script=["empty"] * (chats + steps)) as (url, _):
        model = ServerModel(url, MODEL, settings, None, concurrency=1)
        run(str(eval_dir), str(tmp_path / "s.jsonl"), model, settings, progress=False)
        model.close()
    silent = _lines(tmp_path / "s.jsonl")
    assert {x["sample_id"] for x in silent} == {
        p["sample_id"] for p in prompts if p["mode"] == "chat"
    }
    assert (
        evaluate(str(samples), str(tmp_path / "s.jsonl"), str(tmp_path / "r2")).tasks["stop"][
            "score"
        ]
        == 1.0
    )


def test_the_dialogue_so_far_goes_into_every_step(eval_set) -> None:
    _, _, prompts = eval_set
    prompt = next(p for p in prompts if p["task"] == "stop")
    steps = P.stream_steps(prompt, P.grid_fps(prompt))
    frames = [P.Shown(t, b"\xff\xd8jpeg") for t in steps]
    sent = []

    class Recorder(ServerModel):
        def _ask(self, messages):
            sent.append(messages)
            return "Sure." if len(sent) == 2 else ""

    model = Recorder("http://127.0.0.1:9", MODEL, ShowSettings(max_frames=3), None)
    replies = model.stream(prompt, frames, steps)
    assert [r.time for r in replies] == [steps[1]]
    last = sent[-1]
    assert last[0]["role"] == "system"
    assert {"role": "assistant", "content": "Sure."} in last  # its own earlier reply
    images = [
        c for m in last if m["role"] == "user" for c in m["content"] if c["type"] == "image_url"
    ]
    assert len(images) <= 3 + 1  # the latest frames (one more before its own reply)
    texts = [
        c["text"] for m in last if m["role"] == "user" for c in m["content"] if c["type"] == "text"
    ]
    said = [u for u in prompt["stream"] if u["time"] <= steps[-1]]
    assert all(any(u["content"] in t for t in texts) for u in said)
    assert texts[-1] == f"Time={steps[-1]:g}s"


def test_failures_are_rows_and_a_rerun_retries_them(
    eval_set, tmp_path, capsys, monkeypatch
) -> None:
    samples, eval_dir, prompts = eval_set
    monkeypatch.setenv("EVAL_KEY", "sk-planted-secret-123")
    out = tmp_path / "p.jsonl"
    args = [
        "eval",
        "run",
        "--prompts",
        str(eval_dir),
        "--out",
        str(out),
        "--model",
        MODEL,
        "--retries",
        "0",
        "--concurrency",
        "1",
        "--api-key-env",
        "EVAL_KEY",
        "--image-size",
        "112",
        "--max-frames",
        "2",
        "--request-timeout-s",
        "1",
    ]
    first = prompts[0]["sample_id"]
    # the first request stalls past the deadline, the second is a proxy echoing the key
    with serve_fake_vllm(model=MODEL, script=["stall", "echo_auth_401"], stall_s=3) as (url, _):
        code = cli.main([*args, "--model-url", url])
    assert code == cli.EXIT_SOME_INPUTS_FAILED
    fails = _lines(tmp_path / "p.jsonl.failures.jsonl")
    assert len(fails) == 2 and fails[0]["sample_id"] == first
    assert "timed out" in fails[0]["message"] and fails[1]["reason"] == "http_401"
    assert "see" in capsys.readouterr().err
    for path in tmp_path.iterdir():
        assert "sk-planted-secret-123" not in path.read_text(), path
    done = set(P.finished((tmp_path / "p.jsonl.done").read_text()))
    assert len(done) == len(prompts) - 2 and first not in done
    with serve_fake_vllm(model=MODEL) as (url, state):
        assert cli.main([*args, "--model-url", url]) == cli.EXIT_OK
        retried = state.requests
    assert not (tmp_path / "p.jsonl.failures.jsonl").exists()
    assert len(P.finished((tmp_path / "p.jsonl.done").read_text())) == len(prompts)
    assert retried < sum(
        len(P.stream_steps(p, P.grid_fps(p))) if p["mode"] == "stream" else 1 for p in prompts
    )  # only the two failed samples again
    chats = [x for x in _lines(out) if "time" not in x]
    assert len(chats) == len({x["sample_id"] for x in chats})  # no sample twice
    assert evaluate(str(samples), str(out), str(tmp_path / "r")).problems == ()


def test_a_killed_run_is_resumed_without_half_lines_or_duplicates(eval_set, tmp_path) -> None:
    _, eval_dir, prompts = eval_set
    out = tmp_path / "p.jsonl"
    finished, half = prompts[0], prompts[-1]
    out.write_text(
        json.dumps({"sample_id": finished["sample_id"], "text": "kept"})
        + "\n"
        + json.dumps({"sample_id": half["sample_id"], "time": 0.0, "text": "x"})
        + "\n"
        + '{"sample_id": "torn'
    )
    (tmp_path / "p.jsonl.done").write_text(json.dumps(finished["sample_id"]) + '\n"tor')
    settings = ShowSettings(max_frames=2, image_size=112)
    with serve_fake_vllm(model=MODEL) as (url, _):
        model = ServerModel(url, MODEL, settings, None)
        summary = run(str(eval_dir), str(out), model, settings, progress=False)
        model.close()
    assert summary.skipped_done == 1 and summary.answered == len(prompts) - 1
    lines = _lines(out)  # every line whole JSON
    assert [x["text"] for x in lines if x["sample_id"] == finished["sample_id"]] == ["kept"]
    assert "x" not in [x["text"] for x in lines if x["sample_id"] == half["sample_id"]]


def test_usage_errors(eval_set, tmp_path) -> None:
    _, eval_dir, _ = eval_set
    assert (
        cli.main(["eval", "run", "--prompts", str(eval_dir), "--out", str(tmp_path / "p.jsonl")])
        == cli.EXIT_USAGE
    )
    assert (
        cli.main(
            [
                "eval",
                "run",
                "--prompts",
                str(tmp_path / "none"),
                "--out",
                str(tmp_path / "p.jsonl"),
                "--model-url",
                "http://127.0.0.1:9",
                "--model",
                MODEL,
            ]
        )
        == cli.EXIT_USAGE
    )
    assert (
        cli.main(
            [
                "eval",
                "run",
                "--prompts",
                str(eval_dir),
                "--out",
                str(tmp_path),
                "--model-url",
                "http://127.0.0.1:9",
                "--model",
                MODEL,
            ]
        )
        == cli.EXIT_USAGE
    )


def tiny_qwen2vl(folder: Path, silent: bool = False) -> Path:
    """The tiny random-weight Qwen2-VL of tests/clients, built here with the main venv's
    transformers: it answers every streaming step, or (`silent`) none."""
    sys.path.insert(0, str(Path(__file__).with_name("clients")))
    from tiny_qwen2vl import tiny_model

    return tiny_model(folder, silent)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_qwen2vl(tmp_path_factory.mktemp("tiny-qwen2vl"))


@pytest.mark.slow
@pytest.mark.parametrize("silent", [False, True])
def test_local_streaming_with_the_cache_equals_recomputing_each_step(
    eval_set, tiny_model, tmp_path, silent
) -> None:
    """The reply path (the reply stays in the cache) and the silence path (the probe is cut
    from the cache again), each against recomputing the whole context at every step."""
    from pipeline.models.local_vlm import LocalQwen2VL
    from pipeline.predict import _frames

    _, _, prompts = eval_set
    folder = tiny_qwen2vl(tmp_path / "silent", silent=True) if silent else tiny_model
    settings = ShowSettings(max_frames=4, image_size=56, max_tokens=3)
    cached = LocalQwen2VL(str(folder), settings, use_cache=True, dtype="float64")
    fresh = LocalQwen2VL(str(folder), settings, use_cache=False, dtype="float64")
    replies = steps = 0
    for prompt in prompts:
        frames = _frames(prompt, settings)
        if prompt["mode"] == "chat":
            assert cached.chat(prompt, frames) == fresh.chat(prompt, frames)
            continue
        times = P.stream_steps(prompt, P.grid_fps(prompt))
        said = cached.stream(prompt, frames, times)
        assert said == fresh.stream(prompt, frames, times)
        replies += len(said)
        steps += len(times)
    assert steps and replies == (0 if silent else steps)


def test_local_back_end_through_the_command(eval_set, tiny_model, tmp_path) -> None:
    samples, eval_dir, prompts = eval_set
    out = tmp_path / "p.jsonl"
    code = cli.main(
        [
            "eval",
            "run",
            "--prompts",
            str(eval_dir),
            "--out",
            str(out),
            "--model-path",
            str(tiny_model),
            "--image-size",
            "56",
            "--max-frames",
            "4",
            "--max-tokens",
            "3",
        ]
    )
    assert code == cli.EXIT_OK
    assert len(P.finished((tmp_path / "p.jsonl.done").read_text())) == len(prompts)
    assert evaluate(str(samples), str(out), str(tmp_path / "r")).problems == ()
