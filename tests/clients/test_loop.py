"""The whole loop on CPU with the trainers' own code (`make test-clients`): data -> two
planned arms -> a tiny random-weight Qwen2-VL trained a few steps on each arm's export by
LLaMA-Factory's trainer and by ms-swift's -> `ominous eval run --model-path` on each
checkpoint -> `ominous experiment score`, a two-row table.

The scores mean nothing (random weights, three steps); what is checked is that every step's
output is the next one's input: the plan's exports train, the trainers' checkpoints load and
answer every eval prompt, and the answers score. Its time is in bench/, not asserted here."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import yaml
from schema_rows import write_samples, write_videos
from test_tasks import TABLES, _info
from test_trainers import DURATIONS_S, _check, _video

from pipeline import cli
from pipeline.core.tasks import BuildConfig, build_video

ARMS = "arms: ['RNS111 (6)', {name: 'G+N (8)', recipe: 'GN11 (8)'}]\n"
TRAIN_COPIES = 3


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[Path, Path]:
    """(SAMPLES, annotate's OUT with the media and durations): copies of the hand-made videos
    for training, the 8-second one for testing, over real (generated) media."""
    root = tmp_path_factory.mktemp("loop")
    media = root / "media"
    for vid, seconds in DURATIONS_S.items():
        _video(media / f"{vid}.mp4", seconds)
    rows = []
    for vid in DURATIONS_S:
        base = build_video(_info(TABLES, vid), BuildConfig(window_ms=8000))
        for k in range(TRAIN_COPIES):
            shutil.copyfile(media / f"{vid}.mp4", media / f"{vid}-{k}.mp4")
            rows += [
                {
                    **r,
                    "video_id": f"{vid}-{k}",
                    "sample_id": f"{r['sample_id']}-{k}",
                    "split": "train",
                }
                for r in base
            ]
        if vid == "one":
            rows += [{**r, "split": "test"} for r in base]
    samples = write_samples(root / "samples", rows)
    durations = {p.stem: (p, DURATIONS_S[p.stem.split("-")[0]] * 1000) for p in media.glob("*.mp4")}
    return samples, write_videos(root / "out", durations)


@pytest.mark.parametrize("trainer", ["llamafactory", "swift"])
def test_data_training_predictions_scores(build, tmp_path, trainer: str) -> None:
    samples, annotations = build
    spec = tmp_path / "two.yaml"
    spec.write_text(f"name: loop-{trainer}\n" + ARMS)
    exp = tmp_path / "exp"
    assert (
        cli.main(
            [
                "experiment",
                "plan",
                "--experiment",
                str(spec),
                "--samples",
                str(samples),
                "--format",
                trainer,
                "--annotations",
                str(annotations),
                "--out",
                str(exp),
            ]
        )
        == cli.EXIT_OK
    )
    plan = yaml.safe_load((exp / "experiment.yaml").read_text())
    prompts = (exp / "eval" / "eval_prompts.jsonl").read_text().splitlines()
    for arm in plan["arms"].values():
        folder = exp / arm["folder"]
        _check(trainer, str(folder / "export"), str(folder / "train"), script=f"train_{trainer}")
        checkpoint = folder / "train" / "checkpoint"
        assert (checkpoint / "config.json").is_file()
        code = cli.main(
            [
                "eval",
                "run",
                "--prompts",
                str(exp / "eval"),
                "--out",
                str(folder / "predictions.jsonl"),
                "--model-path",
                str(checkpoint),
                "--image-size",
                "56",
                "--max-frames",
                "4",
                "--max-tokens",
                "3",
            ]
        )
        assert code == cli.EXIT_OK
        done = (folder / "predictions.jsonl.done").read_text().splitlines()
        assert len(done) == len(prompts)
    assert cli.main(["experiment", "score", str(exp)]) == cli.EXIT_OK
    table = (exp / "scores.md").read_text().splitlines()
    rows = [line for line in table[2:] if line.startswith("| ") and "|" in line[2:]][:2]
    assert [r.split("|")[1].strip() for r in rows] == ["RNS111 (6)", "G+N (8)"]
    for row in rows:
        overall = row.split("|")[5].strip()
        assert overall and math.isfinite(float(overall))
