"""The worker image cannot be built here (no Docker engine): check it statically against the
lock file, and the model fetch it runs, offline (where it must fail clearly)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from pipeline import cli

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "workflows" / "docker" / "Dockerfile"


def _locked(package: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == package)


def test_dockerfile_pins_match_the_lock_file() -> None:
    text = DOCKERFILE.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
    assert args["BEAM_VERSION"] == _locked("apache-beam")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f">={args['PYTHON_VERSION']}" in requires
    assert "FROM apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION}" in text
    assert "uv sync --frozen --no-dev" in text  # exactly the lock, nothing resolved anew
    assert "ominous models fetch --cache /opt/models" in text
    assert re.search(r"^ENV HF_HUB_OFFLINE=1$", text, re.MULTILINE)
    for copied in re.findall(r"^COPY (\S+) \./", text, re.MULTILINE):
        assert (ROOT / copied).exists(), copied
    if shutil.which("hadolint"):
        subprocess.run(["hadolint", str(DOCKERFILE)], check=True)


def test_models_fetch_fails_clearly_offline(tmp_path: Path, capsys, monkeypatch) -> None:
    for var in ("HF_HOME", "TORCH_HOME", "NLTK_DATA", "OMINOUS_MODELS"):  # it sets them
        monkeypatch.setenv(var, "unset-by-test")
    assert (
        cli.main(["models", "fetch", "--cache", str(tmp_path), "--only", "clip,segmenter"])
        == cli.EXIT_FAILED
    )
    out = capsys.readouterr().out
    assert "clip       FAILED: open_clip ViT-B-32/laion2b_s34b_b79k could not be loaded" in out
    assert "segmenter  FAILED: SaT model 'sat-3l-sm' could not be loaded" in out
    assert cli.main(["models", "fetch", "--cache", str(tmp_path), "--only", "gpu"]) == (
        cli.EXIT_USAGE
    )
