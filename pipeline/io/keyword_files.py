"""Keyword files (YAML) and folders of them, read for `annotate --keywords`."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.core.keywords import KeywordError, KeywordSpec, merge_keywords, parse_keyword_doc


def load_keyword_file(path: str | Path) -> list[KeywordSpec]:
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KeywordError(f"cannot read keyword file {p}: {exc}") from exc
    return parse_keyword_doc(doc, str(p), p.stem)


def load_keywords(paths: list[str]) -> list[KeywordSpec]:
    """Files or folders of *.yaml; a keyword listed twice keeps its first settings."""
    files: list[Path] = []
    for path in paths:
        p = Path(path)
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return merge_keywords([load_keyword_file(f) for f in files], paths)
