"""Mixture recipes: the letter shorthand researchers write ("ORNS1111 (10k)") and YAML files.

Letters name components; digits are their weights, one digit per letter; the size in
parentheses takes k (thousand) and m (million). "+10k" means 10,000 streaming samples
(R, N, S, A, Q equally) on top of the whole replay set; "+10k-noise" leaves noise out;
"+10k-rev-pre" and "+10k-rev-rev" draw rev from one of its two forms (the query at the
window's start, or mid-stream), which one build makes both of. A YAML recipe picks the same
with `rev_variant: pre|rev`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pipeline.core.task_facts import tasks_where
from pipeline.core.templates import REV_VARIANTS
from pipeline.errors import UsageError

# Component letters -> the sample tasks they draw from ("O" is the replay set).
LETTERS: dict[str, tuple[str, ...]] = {
    "O": (),
    "R": ("rev",),
    "N": ("noise",),
    "S": ("stop",),
    "A": ("narration",),
    "Q": ("silence",),
    "D": ("tsg_dialogue",),
    "C": ("tsg_caption",),
    "E": ("caption_to_dialogue",),
    "F": ("dialogue_to_caption",),
    "G": tasks_where("family", "grounding"),
    "K": ("contrast",),  # noise and its contrast: real questions answered, remarks not
}
REPLAY = "O"
_STREAMING = "RNSAQ"
_NAMES = {"noise": "N", "stop": "S", "rev": "R", "narration": "A", "silence": "Q"}

_SHORTHAND = re.compile(r"^\s*([A-Z]+)\s*(\d+)\s*\(\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*\)\s*$")
_PLUS = re.compile(r"^\s*\+\s*(\d+(?:\.\d+)?)\s*([kKmM]?)((?:\s*-\s*[a-z]+)*)\s*$")


class RecipeError(UsageError):
    """A recipe that cannot be read or cannot be filled; the message says which part."""


@dataclass(frozen=True)
class Recipe:
    name: str
    size: int  # samples drawn from the components other than full replay
    weights: tuple[tuple[str, int], ...]  # (letter, weight), in the written order
    replay_all: bool = False  # "+10k": the whole replay set, plus `size` drawn samples
    variants: tuple[tuple[str, str], ...] = ()  # (task, variant) a task draws only from

    def counts(self) -> dict[str, int]:
        """Exact counts per component by largest remainder (they sum to `size`)."""
        total = sum(w for _, w in self.weights)
        if total <= 0:
            raise RecipeError(f"{self.name}: the weights add up to zero")
        quotas = [(letter, self.size * w / total) for letter, w in self.weights]
        counts = {letter: math.floor(q) for letter, q in quotas}
        short = self.size - sum(counts.values())
        by_remainder = sorted(
            quotas,
            key=lambda lq: (-(lq[1] - math.floor(lq[1])), [x for x, _ in quotas].index(lq[0])),
        )
        for letter, _ in by_remainder[:short]:
            counts[letter] += 1
        return counts

    def tasks(self, letter: str) -> tuple[str, ...]:
        return LETTERS[letter]

    def variant(self, task: str) -> str | None:
        return dict(self.variants).get(task)


def rev_variant(name: str, where: str) -> tuple[tuple[str, str], ...]:
    """The seed's rev arms: `pre` (query at the window's start) or `rev` (mid-stream)."""
    if name not in REV_VARIANTS:
        raise RecipeError(
            f"{where}: rev variant {name!r} is not one of "
            f"{sorted(REV_VARIANTS)} (pre: the query at the window's start; "
            "rev: the query mid-stream, before the evidence)"
        )
    return (("rev", REV_VARIANTS[name]),)


def _size(number: str, unit: str) -> int:
    scale = {"": 1, "k": 1000, "m": 1_000_000}[unit.lower()]
    value = float(number) * scale
    if value != int(value) or value <= 0:
        raise RecipeError(f"size {number}{unit} is not a positive whole number of samples")
    return int(value)


def parse_shorthand(text: str) -> Recipe:
    """ "ORNS1111 (10k)", "RNS211 (20k)", "+10k", "+10k-noise"."""
    m = _SHORTHAND.match(text)
    if m:
        letters, digits, number, unit = m.groups()
        if len(letters) != len(digits):
            raise RecipeError(
                f"{text!r}: {len(letters)} letters but {len(digits)} weights; "
                "write one digit per letter, e.g. ORNS1111 (10k)"
            )
        unknown = sorted(set(letters) - LETTERS.keys())
        if unknown:
            raise RecipeError(
                f"{text!r}: unknown component letters {unknown}; known: {''.join(LETTERS)}"
            )
        if len(set(letters)) != len(letters):
            raise RecipeError(f"{text!r}: a letter appears twice")
        return Recipe(
            text.strip(),
            _size(number, unit),
            tuple((letter, int(d)) for letter, d in zip(letters, digits, strict=True)),
        )
    m = _PLUS.match(text)
    if m:
        number, unit, minus = m.groups()
        words = [w.strip() for w in minus.split("-") if w.strip()]
        left_out, variants = [], ()
        while words:  # "-noise" leaves noise out; "-rev-pre" / "-rev-rev" picks rev's form
            word = words.pop(0)
            if word == "rev" and words and words[0] in REV_VARIANTS:
                variants = rev_variant(words.pop(0), repr(text))
            else:
                left_out.append(word)
        unknown = sorted(set(left_out) - _NAMES.keys())
        if unknown:
            raise RecipeError(
                f"{text!r}: cannot leave out {unknown}; streaming parts are {sorted(_NAMES)}"
            )
        letters = [c for c in _STREAMING if c not in {_NAMES[w] for w in left_out}]
        return Recipe(
            text.strip(),
            _size(number, unit),
            tuple((c, 1) for c in letters),
            replay_all=True,
            variants=variants,
        )
    raise RecipeError(
        f"cannot read recipe {text!r}: expected letters, weights and a size "
        "like 'ORNS1111 (10k)', or '+10k' / '+10k-noise'"
    )


def parse_recipe_doc(doc: Any, spec: str, stem: str) -> Recipe:
    """The recipe a parsed recipe file holds (`spec` names it in errors; `stem` is its name
    where the file gives none)."""
    if not isinstance(doc, dict):
        raise RecipeError(f"{spec}: expected a mapping")
    variants = rev_variant(str(doc["rev_variant"]), spec) if "rev_variant" in doc else ()
    if "recipe" in doc:
        recipe = parse_shorthand(str(doc["recipe"]))
        return Recipe(
            doc.get("name", recipe.name),
            recipe.size,
            recipe.weights,
            recipe.replay_all,
            variants or recipe.variants,
        )
    try:
        comps = doc["components"]
        written = str(doc["size"]).strip()
    except KeyError as exc:
        raise RecipeError(f"{spec}: missing key {exc}") from None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", written)
    if not m or not isinstance(comps, dict):
        raise RecipeError(
            f"{spec}: size must look like 10000, 10k or 1m, and components "
            "must map letters to weights"
        )
    size = _size(*m.groups())
    unknown = sorted(set(comps) - LETTERS.keys())
    if unknown:
        raise RecipeError(f"{spec}: unknown component letters {unknown}")
    weights = tuple((str(k), int(v)) for k, v in comps.items())
    if any(w < 0 for _, w in weights):
        raise RecipeError(f"{spec}: weights must be >= 0")
    return Recipe(
        str(doc.get("name", stem)), size, weights, bool(doc.get("replay_all", False)), variants
    )
