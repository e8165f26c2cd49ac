"""lmms-eval from PyPI on `ominous export --format lmms-eval` (`make test-clients`): its own
TaskManager loads the task folder (documents, visuals cut to each window, references scoring
100), and a run through its OpenAI-compatible model against the test server writes a results
file that agrees with `ominous eval` on the same answers."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fake_vllm import serve_fake_vllm
from schema_rows import write_samples
from test_tasks import TABLES, _info
from test_trainers import DURATIONS_S, HERE, _check, _client, _video

from pipeline.core.tasks import GROUNDING_TASKS, BuildConfig, build_video
from pipeline.evaluate import evaluate
from pipeline.lmms_tasks import export_lmms_eval

MODEL = "Qwen/Qwen2-VL-7B-Instruct"


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    """(the task folder, SAMPLES, the rows): the hand-made videos' samples over real media,
    all in the test split, windows of 8 s that start inside the videos."""
    root = tmp_path_factory.mktemp("lmms")
    media = root / "media"
    for vid, seconds in DURATIONS_S.items():
        _video(media / f"{vid}.mp4", seconds)
    rows = [
        {**r, "split": "test"}
        for v in DURATIONS_S
        for r in build_video(_info(TABLES, v), BuildConfig(window_ms=8000))
    ]
    samples = write_samples(root / "samples", rows)
    out = root / "tasks"
    export_lmms_eval(str(samples), str(out), video_root=str(media))
    return out, samples, rows


def test_lmms_eval_loads_every_task_document_and_window(task_dir) -> None:
    out, _, rows = task_dir
    expected = {
        f"ominous_{task}": {
            "docs": sum(r["task"] == task for r in rows),
            "windows": {
                r["sample_id"]: [r["clip_start_ms"] / 1000, r["clip_end_ms"] / 1000]
                for r in rows
                if r["task"] == task
            },
        }
        for task in GROUNDING_TASKS
        if any(r["task"] == task for r in rows)
    }
    _check("lmms_eval", str(out), json.dumps(expected), script="lmms_eval")


def test_a_run_through_lmms_eval_agrees_with_ominous_eval(task_dir, tmp_path) -> None:
    out, samples, rows = task_dir
    results = tmp_path / "results"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OPENAI_API_KEY": "EMPTY",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": str(HERE),
    }
    # one answer for every question: a span and a caption, right for some samples only
    answer = "0.0-4.0 seconds: A cook chops onions on a board."
    with serve_fake_vllm(model=MODEL, answer=answer) as (url, state):
        done = subprocess.run(
            [
                str(_client("lmms_eval")),
                "-m",
                "lmms_eval",
                "--model",
                "openai",
                "--model_args",
                f"model_version={MODEL},base_url={url},max_frames_num=4,"
                "num_concurrent=4,max_retries=1",
                "--tasks",
                "ominous",
                "--include_path",
                str(out),
                "--output_path",
                str(results),
                "--log_samples",
                "--batch_size",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
        asked = state.completions
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]
    grounding = [r for r in rows if r["task"] in GROUNDING_TASKS]
    assert asked == len(grounding)
    (summary,) = results.rglob("*results.json")
    reported = json.loads(summary.read_text())["results"]
    predictions = []
    for path in results.rglob("*_samples_*.jsonl"):
        for line in path.read_text().splitlines():
            logged = json.loads(line)  # what process_results kept: the sample, the answer
            row = json.loads(logged["ominous_score"]["row"])
            predictions.append(
                {"sample_id": row["sample_id"], "text": logged["ominous_score"]["text"]}
            )
    assert len(predictions) == len(grounding)
    assert all(p["text"] == answer for p in predictions)
    preds = tmp_path / "predictions.jsonl"
    preds.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    ours = evaluate(str(samples), str(preds), str(tmp_path / "report"))
    compared = 0
    for task in GROUNDING_TASKS:
        got = reported.get(f"ominous_{task}")
        if got is None:
            continue
        value = next(v for k, v in got.items() if k.startswith("ominous_score"))
        assert value == pytest.approx(100 * ours.tasks[task]["score"], abs=1e-9), task
        compared += 1
    assert compared == len({r["task"] for r in grounding})
    assert (
        0
        < sum(100 * ours.tasks[t]["score"] for t in GROUNDING_TASKS if t in ours.tasks)
        < 100 * compared
    )  # neither all wrong nor all right
