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
from test_tasks import TABLES, _info

from pipeline.core.tasks import BuildConfig, build_video
from pipeline.export import export
from pipeline.io.schemas import conform

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
GOLDEN = REPO / "tests" / "golden" / "clients"
DURATIONS_S = {"v1": 20, "empty": 5, "one": 8}


def _video(path: Path, seconds: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size=112x84:rate=10:duration={seconds}", "-pix_fmt", "yuv420p",
                    str(path)], check=True, timeout=120)


@pytest.fixture(scope="module")
def mixture(tmp_path_factory) -> tuple[Path, Path]:
    """Every task of the hand-made videos, with real (tiny) media, and three replay rows."""
    root = tmp_path_factory.mktemp("clients")
    media = root / "media"
    for vid, seconds in DURATIONS_S.items():
        _video(media / f"{vid}.mp4", seconds)
    _video(media / "replay" / "r0.mp4", 3)
    rows = [r for v in DURATIONS_S for r in build_video(_info(TABLES, v),
                                                        BuildConfig(window_ms=8000))]
    mix = root / "mix"
    mix.mkdir()
    pq.write_table(conform([{**r, "mixture": "clients"} for r in rows], "samples"),
                   mix / "mixture.parquet")
    replay = [{"id": f"r{i}", "video": str(media / "replay" / "r0.mp4"), "conversations": [
        {"from": "human", "value": value}, {"from": "gpt", "value": "A test pattern."}]}
        for i, value in enumerate(("<video>\nWhat is shown?", "<image>\nWhat is shown?",
                                   "What is shown?"))]
    (mix / "replay.jsonl").write_text("".join(json.dumps(r) + "\n" for r in replay))
    (mix / "mixture.yaml").write_text("recipe: clients\nseed: 0\n")
    return mix, media


def _client(name: str) -> Path:
    python = REPO / ".venv-clients" / name / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: run make test-clients, which syncs it")
    return python


def _check(name: str, export_dir: str) -> None:
    args = [str(_client(name)), str(HERE / f"check_{name}.py"), export_dir,
            str(GOLDEN / name)]
    if os.environ.get("UPDATE_GOLDEN") == "1":
        args.append("--update")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(HERE),
           "DISABLE_VERSION_CHECK": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env)
    sys.stdout.write(done.stdout.strip().splitlines()[-1] + "\n" if done.stdout.strip() else "")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]


def test_llamafactory_loads_every_record(mixture, tmp_path) -> None:
    mix, media = mixture
    out = tmp_path / "llamafactory"
    export(str(mix), "llamafactory", str(out), video_root=str(media))
    _check("llamafactory", str(out))


def test_swift_loads_and_encodes_every_record(mixture, tmp_path) -> None:
    mix, media = mixture
    out = tmp_path / "swift"
    export(str(mix), "swift", str(out), video_root=str(media))
    _check("swift", str(out))
