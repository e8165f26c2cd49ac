"""Run presets: a YAML file of option names -> values, expanded into flags before the user's
own (so flags on the command line win). Every key must be an option some phase or Beam knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from apache_beam.options import pipeline_options as po

from pipeline.errors import UsageError


class WorkflowError(UsageError):
    """A preset that cannot be used; the message names the file and the key."""


def known_options() -> set[str]:
    """Every option dest of every PipelineOptions class loaded (Beam's and ours)."""
    import pipeline.build  # registers BuildOptions
    import pipeline.options  # noqa: F401  (registers AnnotateOptions, OutputOptions)

    parser = po._BeamArgumentParser(allow_abbrev=False, conflict_handler="resolve")
    for cls in {str(c): c for c in po.PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)
    return {a.dest for a in parser._actions}


def _flags(key: str, value: Any) -> list[str]:
    if value is None or value is False:
        return []
    if value is True:
        return [f"--{key}"]
    if isinstance(value, list):
        return [flag for item in value for flag in _flags(key, item)]
    return [f"--{key}={value}"]


def workflow_flags(path: str) -> list[str]:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise WorkflowError(f"cannot read workflow {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise WorkflowError(f"{path}: expected a mapping of option names to values")
    unknown = sorted(set(doc) - known_options())
    if unknown:
        raise WorkflowError(f"{path}: unknown options {unknown}")
    return [flag for key, value in doc.items() for flag in _flags(key, value)]


def expand(argv: list[str]) -> list[str]:
    """Replace `--workflow FILE` with the preset's flags, ahead of everything else."""
    out, preset = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--workflow" and i + 1 < len(argv):
            preset += workflow_flags(argv[i + 1])
            i += 2
            continue
        if arg.startswith("--workflow="):
            preset += workflow_flags(arg.split("=", 1)[1])
        else:
            out.append(arg)
        i += 1
    return preset + out
