"""A command's few output files published into a folder as one unit, one writer at a time.

mix and export write a handful of files that belong together (a mixture and the recipe that
made it; an export's records and the export.yaml that labels them). Each file is written
whole under a hidden temporary name; then a marker names the files being swapped in; then
they are renamed into place; then the marker goes. A reader that finds the marker knows a
writer was killed half way (some files new, some old) and refuses the folder; the next
writer, holding the folder's lock, clears what the killed one left and publishes afresh.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.errors import UsageError
from pipeline.io.commit import RunInProgress, flocked

MARKER = ".publishing"
TMP_SUFFIX = ".publish-tmp"


LOCK = ".ominous.lock"


@contextlib.contextmanager
def folder_lock(out: Path, command: str) -> Iterator[None]:
    """Hold OUT for one `command` at a time (flock on a hidden file in it: the system
    releases it when the holder dies, even by kill -9). Leftovers of a killed writer are
    cleared once it is held; an OUT this call created is removed again if the command fails
    before publishing anything into it."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    with flocked(out / LOCK, f"another {command} is writing to {out}"):
        _clear_leftovers(out)
        try:
            yield
        except BaseException:
            if created and [p.name for p in out.iterdir()] == [LOCK]:
                (out / LOCK).unlink()
                out.rmdir()
            raise


def _clear_leftovers(out: Path) -> None:
    for work in out.parent.glob(f".{out.name}.partial-*"):
        shutil.rmtree(work, ignore_errors=True)
    if out.is_dir():
        for tmp in out.glob(f"*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)


def staged_name(out: Path, name: str) -> Path:
    """Where a file of OUT is written before it is published."""
    return out / f".{name}{TMP_SUFFIX}"


def write_staged(out: Path, name: str, text: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = staged_name(out, name)
    path.write_text(text, encoding="utf-8")
    return path


def publish(out: Path, staged: dict[str, Path], remove: Iterable[str] = ()) -> None:
    """Move whole files (`name -> a file on OUT's file system`) into OUT and delete the
    names in `remove`, as one unit for readers that call `check_whole`."""
    out.mkdir(parents=True, exist_ok=True)
    marker = out / MARKER
    marker.write_text("".join(f"{n}\n" for n in [*staged, *remove]), encoding="utf-8")
    for name, path in staged.items():
        os.replace(path, out / name)
    for name in remove:
        (out / name).unlink(missing_ok=True)
    marker.unlink()


def check_whole(folder: Path, command: str) -> None:
    """Refuse a folder whose last `command` was killed while publishing it."""
    if (folder / MARKER).exists():
        raise RunInProgress(
            f"{folder} is half published: an ominous {command} was killed while moving its "
            f"files in (some are new, some old), or is still at it; run the {command} again "
            "on this --out"
        )
