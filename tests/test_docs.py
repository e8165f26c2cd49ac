"""The docs: generated references match their sources, and every link in them resolves."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline import docs

ROOT = Path(__file__).resolve().parents[1]


def test_generated_references_are_current() -> None:
    stale = [
        str(path)
        for path, text in docs.pages().items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"run python -m pipeline.docs: {stale}"


def test_every_relative_link_resolves() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    assert len(pages) > 10
    for page in pages:
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text(encoding="utf-8")):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name} links to {target}"


def test_the_readme_is_short_and_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 110
    assert text.index("make demo") < text.index("make test") < 300
