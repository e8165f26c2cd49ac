"""The `runs` record: one YAML per run in OUT/runs/, so every table row's run_id can be traced
to its options, versions, code revision, counts, counters and wall time."""

from __future__ import annotations

import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from pipeline import __version__, metrics
from pipeline.core.redact import redact_options
from pipeline.io import storage

_PACKAGES = (
    "apache-beam",
    "whisperx",
    "yt-dlp",
    "torch",
    "open-clip-torch",
    "wtpsplit",
    "decord2",
    "pyarrow",
    "duckdb",
)


def counters(result: Any) -> dict[str, int]:
    """Committed counters of the run in the pipeline's namespace, by name."""
    from apache_beam.metrics.metric import MetricsFilter

    found = result.metrics().query(MetricsFilter().with_namespace(metrics.NAMESPACE))
    out: dict[str, int] = {}
    for c in found["counters"]:
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + int(c.committed or 0)
    return dict(sorted(out.items()))


def _revision() -> str | None:
    here = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"ominous": __version__}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def write_record(
    out: str,
    run_id: str,
    phase: str,
    options: Any,
    started: float,
    counts: dict[str, Any],
    counted: dict[str, int],
    config_hash: str,
) -> str:
    path = storage.join(out, "runs", f"{run_id}.yaml")
    record = {
        "run_id": run_id,
        "phase": phase,
        "config_hash": config_hash,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_s": round(time.time() - started, 2),
        "git_revision": _revision(),
        "versions": _versions(),
        "counts": counts,
        "counters": counted,
        "options": redact_options(options.get_all_options(drop_default=True)),
    }
    storage.write_text(path, yaml.safe_dump(record, sort_keys=False, default_flow_style=False))
    return path
