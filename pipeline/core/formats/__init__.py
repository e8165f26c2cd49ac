"""The trainer formats, one module each, registered in one table (`FORMATS`) that export, the
experiment plan, the CLI, the docs generator and the tests read. Adding a format is one
module with a `FORMAT` (core/formats/base.py says what it holds), one line here, and its
goldens and a loader contract test.

`eval` and `lmms-eval` (`PROMPT_FORMATS`) are not trainer formats: they write a split's
prompts from SAMPLES for a model to answer (pipeline/evaluate.py, pipeline/lmms_tasks.py).
"""

from __future__ import annotations

from pipeline.core.exporters import NOISE_TARGETS, TIME_REFERENCES, ExportError
from pipeline.core.formats import (
    livecc,
    llamafactory,
    llava,
    streaming,
    swift,
    videollm_online,
)
from pipeline.core.formats.base import Files, Format

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        llava.FORMAT,
        llamafactory.FORMAT,
        swift.FORMAT,
        livecc.FORMAT,
        videollm_online.FORMAT,
        streaming.FORMAT,
    )
}
PROMPT_FORMATS = ("eval", "lmms-eval")

__all__ = ["FORMATS", "PROMPT_FORMATS", "Files", "Format", "get"]


def get(name: str) -> Format:
    if name not in FORMATS:
        raise ExportError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
    return FORMATS[name]


def default_reference(name: str) -> str:
    return "clip" if get(name).windowed else "video"


def check_reference(name: str, reference: str) -> None:
    if reference not in TIME_REFERENCES:
        raise ExportError(f"time reference must be one of {TIME_REFERENCES}")
    if reference == "clip" and not get(name).windowed:
        raise ExportError(
            f"{name} trainers show the whole video, not the sample's window: "
            "times relative to the window would name frames they never show; "
            "use --time-reference video"
        )


def noise_marker(name: str, noise_target: str) -> str:
    """The text a noise turn holds in this format: its template's begin-of-turn token, or
    nothing (`end`: the bare end token, as stop)."""
    if noise_target not in NOISE_TARGETS:
        raise ExportError(f"noise target must be one of {NOISE_TARGETS}")
    return get(name).noise_marker if noise_target == "marker" else ""
