"""Curation policy files: `default` (workflows/curation/default.yaml), `none`, or a path."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.core.curation import Policy, PolicyError

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "workflows" / "curation" / "default.yaml"


def load_policy(spec: str | None) -> Policy:
    if spec in (None, "default"):
        path = DEFAULT_POLICY
    elif spec == "none":
        return Policy()
    else:
        path = Path(spec)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read curation policy {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise PolicyError(f"{path}: a policy is a mapping with video, sentence, clip sections")
    try:
        return Policy.from_doc(doc)
    except TypeError as exc:
        raise PolicyError(f"{path}: {exc}") from exc
