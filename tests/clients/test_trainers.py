"""The trainers' own loaders on exports of the synthetic set (`make test-clients`).

Exports are written here, in the main venv; each trainer's check runs in its own venv
(`.venv-clients/<name>`, synced from `tests/clients/<name>/uv.lock` by `make test-clients`),
with a tiny Qwen2-VL processor built in the test (no hub). UPDATE_GOLDEN=1 rewrites the label
layouts in tests/golden/clients/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from schema_rows import conform
from test_tasks import TABLES, _info

from pipeline import synthetic
from pipeline.core.dataset_card import HF_SPLIT, dataset_card
from pipeline.core.formats import FORMATS
from pipeline.core.splits import SPLITS
from pipeline.core.tasks import BuildConfig, build_video
from pipeline.evaluate import export_eval
from pipeline.export import export

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
GOLDEN = REPO / "tests" / "golden" / "clients"
DURATIONS_S = {"v1": 20, "empty": 5, "one": 8}


def _video(path: Path, seconds: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    source = f"testsrc=size=112x84:rate=10:duration={seconds}"
    synthetic.ffmpeg("-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", str(path))


@pytest.fixture(scope="module")
def mixture(tmp_path_factory) -> tuple[Path, Path]:
    """Every task of the hand-made videos, with real (tiny) media, and three replay rows."""
    root = tmp_path_factory.mktemp("clients")
    media = root / "media"
    for vid, seconds in DURATIONS_S.items():
        _video(media / f"{vid}.mp4", seconds)
    _video(media / "replay" / "r0.mp4", 3)
    rows = [
        r for v in DURATIONS_S for r in build_video(_info(TABLES, v), BuildConfig(window_ms=8000))
    ]
    mix = root / "mix"
    mix.mkdir()
    pq.write_table(
        conform([{**r, "mixture": "clients"} for r in rows], "samples"), mix / "mixture.parquet"
    )
    replay = [
        {
            "id": f"r{i}",
            "video": str(media / "replay" / "r0.mp4"),
            "conversations": [
                {"from": "human", "value": value},
                {"from": "gpt", "value": "A test pattern."},
            ],
        }
        for i, value in enumerate(
            ("<video>\nWhat is shown?", "<image>\nWhat is shown?", "What is shown?")
        )
    ]
    (mix / "replay.jsonl").write_text("".join(json.dumps(r) + "\n" for r in replay))
    (mix / "mixture.yaml").write_text("recipe: clients\nseed: 0\n")
    return mix, media


def _client(name: str) -> Path:
    python = REPO / ".venv-clients" / name / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: run make test-clients, which syncs it")
    return python


def _check(name: str, *args: str, script: str | None = None) -> None:
    args = [str(_client(name)), str(HERE / f"check_{script or name}.py"), *args]
    if os.environ.get("UPDATE_GOLDEN") == "1" and script is None:
        args.append("--update")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(HERE),
        "DISABLE_VERSION_CHECK": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env)
    sys.stdout.write(done.stdout.strip().splitlines()[-1] + "\n" if done.stdout.strip() else "")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]


def test_llamafactory_loads_every_record(mixture, tmp_path) -> None:
    mix, media = mixture
    out = tmp_path / "llamafactory"
    export(str(mix), "llamafactory", str(out), video_root=str(media))
    _check("llamafactory", str(out), str(GOLDEN / "llamafactory"))


def test_swift_loads_and_encodes_every_record(mixture, tmp_path) -> None:
    mix, media = mixture
    out = tmp_path / "swift"
    export(str(mix), "swift", str(out), video_root=str(media))
    _check("swift", str(out), str(GOLDEN / "swift"))


def test_datasets_4_0_reads_every_export_and_the_samples_card(mixture, tmp_path) -> None:
    """LLaMA-Factory pins datasets 4.0.0: what it reads must load there, not only in ours."""
    mix, media = mixture
    split_of = {"v1": "train", "empty": "val", "one": "test"}  # every split, by video
    rows = [
        {**r, "split": split_of[r["video_id"]]}
        for r in pq.read_table(mix / "mixture.parquet").to_pylist()
    ]
    samples = tmp_path / "samples"
    held: dict[str, set[str]] = {}
    for task, split in {(r["task"], r["split"]) for r in rows}:
        part = samples / "samples" / f"task={task}" / f"split={split}"
        part.mkdir(parents=True)
        pq.write_table(
            conform([r for r in rows if (r["task"], r["split"]) == (task, split)], "samples"),
            part / "part.parquet",
        )
        held.setdefault(task, set()).add(split)
    (samples / "README.md").write_text(
        dataset_card({t: tuple(s for s in SPLITS if s in have) for t, have in held.items()}, "test")
    )
    splits = {HF_SPLIT[s]: sum(r["split"] == s for r in rows) for s in SPLITS}
    assert all(splits.values())
    files = []
    for fmt in FORMATS:
        if fmt == "livecc":  # ends with its offsets line, read only by LiveCC's loader
            continue
        summary = export(str(mix), fmt, str(tmp_path / fmt), video_root=str(media))
        rows_written = summary.samples + sum(summary.added.values()) + summary.replay
        files.append(f"{summary.files[0]}:{rows_written}")
    # the eval files too: `target` is one type (a list of one struct) for every task
    eval_dir = tmp_path / "eval"
    about = export_eval(str(samples), str(eval_dir), "test", video_root=str(media))
    files += [f"{eval_dir / name}:{about['samples']}" for name in about["files"]]
    _check("llamafactory", str(samples), json.dumps(splits), *files, script="datasets")
