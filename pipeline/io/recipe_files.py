"""Recipes given on the command line: a shorthand string, or a YAML file."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.core.recipes import Recipe, RecipeError, parse_recipe_doc, parse_shorthand


def load_recipe(spec: str) -> Recipe:
    """A shorthand string, or a YAML file with `name`, `size` and `components` (or `recipe`)."""
    path = Path(spec)
    if not (spec.endswith((".yaml", ".yml")) or path.is_file()):
        return parse_shorthand(spec)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RecipeError(f"cannot read recipe file {spec}: {exc}") from exc
    return parse_recipe_doc(doc, spec, path.stem)
