"""The reference pages generated from their sources, so they cannot drift:
docs/reference/tables.md from schemas/*.yaml, docs/reference/cli.md from the parsers' help,
docs/reference/formats.md from the format registry (pipeline/core/formats/).

  python -m pipeline.docs          rewrite them
  python -m pipeline.docs --check  exit 1 when a committed page differs (a test runs this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from pipeline.io.schemas import SCHEMA_DIR

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reference"
WIDTH = 100
TABLE_ORDER = ("videos", "sentences", "clips", "failures", "samples", "rejections", "common")


def _type(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if spec.get("type") == "list":
        return f"list<{_type(spec['items'])}>"
    if spec.get("type") == "struct":
        return (
            "struct<" + ", ".join(f"{f['name']}: {_type(f['type'])}" for f in spec["fields"]) + ">"
        )
    return str(spec.get("type"))


def _cell(text: Any) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def tables_page() -> str:
    lines = [
        "# Tables",
        "",
        "Generated from `schemas/` by `python -m pipeline.docs`; do not edit.",
        "",
    ]
    for name in TABLE_ORDER:
        doc = yaml.safe_load((SCHEMA_DIR / f"{name}.yaml").read_text())
        if name == "common":
            lines += ["## Shared types (common.yaml)", ""]
            for type_name, spec in doc["types"].items():
                lines += [f"### {type_name}", "", "| field | type | doc |", "| --- | --- | --- |"]
                lines += [
                    f"| {f['name']} | `{_cell(_type(f['type']))}` | {_cell(f.get('doc'))} |"
                    for f in spec["fields"]
                ]
                lines.append("")
            continue
        lines += [
            f"## {name} (schema v{doc['version']})",
            "",
            _cell(doc.get("doc")),
            "",
            "| column | type | nullable | doc |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {f['name']} | `{_cell(_type(f['type']))}` | "
            f"{'yes' if f.get('nullable', True) else 'no'} | {_cell(f.get('doc'))} |"
            for f in doc["fields"]
        ]
        lines.append("")
    return "\n".join(lines)


def cli_page() -> str:
    from pipeline.cli import build_parser, phase_help

    parser = build_parser(WIDTH)
    lines = [
        "# Command line",
        "",
        "Generated from the parsers by `python -m pipeline.docs`; do not edit. `annotate`, "
        "`build` and `run` accept every Beam pipeline option too.",
        "",
        "```",
        parser.format_help().rstrip(),
        "```",
        "",
    ]
    for command in ("annotate", "build", "run"):
        lines += [
            f"## ominous {command}",
            "",
            "```",
            phase_help(command, WIDTH).rstrip(),
            "```",
            "",
        ]
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        if name in ("annotate", "build", "run"):
            continue
        lines += [f"## ominous {name}", "", "```", sub.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def formats_page() -> str:
    """One row per trainer format, from its registered Format and its module's docstring."""
    import sys as _sys

    from pipeline.core.formats import FORMATS, PROMPT_FORMATS, Files

    lines = [
        "# Export formats",
        "",
        "Generated from the format registry (`pipeline/core/formats/`) by `python -m "
        "pipeline.docs`. `ominous export --format NAME` writes these files into `--out`; "
        f"{' and '.join(f'`{p}`' for p in PROMPT_FORMATS)} write a split's prompts instead "
        "(see the CLI reference).",
        "",
        "| format | read by | visual token | noise learns | times default to | files | "
        "left out (counted) |",
        "|---|---|---|---|---|---|---|",
    ]
    empty = Files([], "RECIPE", {}, None, [], Path("/OUT"))
    for name, form in FORMATS.items():
        files = ", ".join(f"`{f}`" for f in form.files(empty))
        token = f"`{form.visual_token}`" if form.visual_token else "-"
        marker = (  # a | inside a table cell ends the cell unless escaped
            f"`{form.noise_marker}`".replace("|", "\\|") if form.noise_marker else "the end token"
        )
        times = "the sample's window (`clip`)" if form.windowed else "the video (`video`)"
        lines.append(
            f"| `{name}` | {form.trainer} | {token} | {marker} | {times} | {files} | "
            f"{form.cannot or '-'} |"
        )
    lines += ["", "## What each format is", ""]
    for name, form in FORMATS.items():
        doc = " ".join((_sys.modules[form.record.__module__].__doc__ or "").split())
        lines += [f"- `{name}`: {doc}"]
    return "\n".join(lines) + "\n"


def pages() -> dict[Path, str]:
    return {
        DOCS / "tables.md": tables_page(),
        DOCS / "cli.md": cli_page(),
        DOCS / "formats.md": formats_page(),
    }


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for path, text in pages().items():
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale (run python -m pipeline.docs): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
