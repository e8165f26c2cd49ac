"""Recorded media for the tests, taken from the package registries at test set-up (nothing is
committed): `make test` runs `python tests/recorded_media.py fetch .cache/recorded-media`.

  - sample.wav (+ .stm transcript, .rttm turns): 30 s of two people on the phone, shipped in
    the pyannote-audio wheel (MIT), which the venv already holds (whisperx needs it);
  - vtest.avi: 80 s of real pedestrians, no audio track, from Debian's opencv-doc;
  - trailer_bbb.mp4: 55 s of real animation (Big Buck Bunny, CC-BY) with cuts, on-screen
    title text and music, from moviepy's source distribution on PyPI;
  - czech.ogg: 22 s of Czech speech, a voice line of Debian's fillets-ng-data-cs (GPL).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

FILES = ("vtest.avi", "trailer_bbb.mp4", "czech.ogg")
MOVIEPY = "moviepy==2.2.1"
TRAILER = "docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4"
VTEST = "usr/share/doc/opencv-doc/examples/data/vtest.avi"
CZECH = "usr/share/games/fillets-ng/sound/start/cs/1st-x-ocel.ogg"  # 22 s of Czech speech


def pyannote_sample() -> Path:
    """The folder of pyannote-audio's sample (sample.wav, sample.stm, sample.rttm)."""
    import importlib.util

    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pyannote.audio is not installed (whisperx brings it)")
    return Path(next(iter(spec.submodule_search_locations))) / "sample"


def _deb(package: str, work: Path) -> None:
    """apt-get download, with the package lists updated first where a fresh machine has
    none."""
    got = subprocess.run(
        ["apt-get", "download", package], cwd=work, timeout=1200, capture_output=True
    )
    if got.returncode:
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=1200)
        subprocess.run(
            ["apt-get", "download", package],
            cwd=work,
            check=True,
            timeout=1200,
            capture_output=True,
        )


def _from_deb(package: str, member: str, work: Path, target: Path) -> None:
    """One file of a Debian package, downloaded and unpacked in `work`."""
    _deb(package, work)
    (deb,) = work.glob(f"{package}_*.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(work / package)], check=True, timeout=600)
    shutil.copyfile(work / package / member, target)


def fetch(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not (target / "vtest.avi").is_file():
            _from_deb("opencv-doc", VTEST, work, target / "vtest.avi")
        if not (target / "czech.ogg").is_file():
            _from_deb("fillets-ng-data-cs", CZECH, work, target / "czech.ogg")
        if not (target / "trailer_bbb.mp4").is_file():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--no-deps",
                    "--no-binary",
                    ":all:",
                    "-d",
                    str(work),
                    MOVIEPY,
                ],
                check=True,
                timeout=1200,
            )
            (sdist,) = work.glob("moviepy-*.tar.gz")
            with tarfile.open(sdist) as archive:
                member = next(m for m in archive.getmembers() if m.name.endswith(TRAILER))
                with (
                    archive.extractfile(member) as src,
                    open(target / "trailer_bbb.mp4", "wb") as dst,
                ):
                    shutil.copyfileobj(src, dst)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "fetch":
        sys.exit("usage: recorded_media.py fetch DIR")
    fetch(Path(sys.argv[2]))
