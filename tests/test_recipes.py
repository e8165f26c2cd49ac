"""Recipe notation, exact counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.recipes import RecipeError, parse_shorthand
from pipeline.io.recipe_files import load_recipe


@pytest.mark.parametrize(
    ("text", "counts", "replay_all"),
    [
        ("ORNS1111 (10k)", {"O": 2500, "R": 2500, "N": 2500, "S": 2500}, False),
        ("RNS211 (20k)", {"R": 10000, "N": 5000, "S": 5000}, False),
        ("NRS211 (10k)", {"N": 5000, "R": 2500, "S": 2500}, False),
        ("ORNS2111 (25k)", {"O": 10000, "R": 5000, "N": 5000, "S": 5000}, False),
        ("ORNS1111(10)", {"O": 3, "R": 3, "N": 2, "S": 2}, False),  # largest remainder
        ("RNS111 (1m)", {"R": 333334, "N": 333333, "S": 333333}, False),
        ("+10k", {"R": 2000, "N": 2000, "S": 2000, "A": 2000, "Q": 2000}, True),
        ("+10k-noise", {"R": 2500, "S": 2500, "A": 2500, "Q": 2500}, True),
        ("+100k-stop", {"R": 25000, "N": 25000, "A": 25000, "Q": 25000}, True),
        ("GAQ211 (4k)", {"G": 2000, "A": 1000, "Q": 1000}, False),
    ],
)
def test_shorthand(text: str, counts: dict, replay_all: bool) -> None:
    recipe = parse_shorthand(text)
    assert recipe.counts() == counts
    assert sum(recipe.counts().values()) == recipe.size
    assert recipe.replay_all is replay_all


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ORNS111 (10k)", "4 letters but 3 weights"),
        ("ORXS1111 (10k)", "unknown component letters"),
        ("OO11 (10k)", "appears twice"),
        ("ORNS1111", "cannot read recipe"),
        ("ORNS1111 (0)", "positive whole number"),
        ("ORNS1111 (1.5)", "positive whole number"),
        ("+10k-snacks", "cannot leave out"),
        ("RN00 (10)", "add up to zero"),
    ],
)
def test_bad_shorthand_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        parse_shorthand(text).counts()


def test_yaml_recipes(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text("name: my-mix\nsize: 1k\ncomponents: {R: 2, N: 1, S: 1}\n")
    recipe = load_recipe(str(f))
    assert recipe.name == "my-mix" and recipe.counts() == {"R": 500, "N": 250, "S": 250}
    f.write_text("recipe: ORNS1111 (8)\n")
    assert load_recipe(str(f)).counts() == {"O": 2, "R": 2, "N": 2, "S": 2}
    f.write_text("size: lots\ncomponents: {R: 1}\n")
    with pytest.raises(RecipeError, match="size must look like"):
        load_recipe(str(f))


def test_shipped_recipes_parse() -> None:
    folder = Path(__file__).resolve().parents[1] / "workflows" / "recipes"
    files = sorted(folder.glob("*.yaml"))
    assert len(files) >= 8
    for f in files:
        recipe = load_recipe(str(f))
        assert sum(recipe.counts().values()) == recipe.size
