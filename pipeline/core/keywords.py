"""Keyword files: one YAML per category, per-keyword search settings over file defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from pipeline.errors import UsageError


class KeywordError(UsageError):
    """A keyword file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class SearchSettings:
    results: int = 20
    min_duration_s: int | None = 60
    max_duration_s: int | None = 3600
    language: str | None = "en"
    creative_commons: bool = False
    exclude_live: bool = True
    exclude_shorts: bool = True
    uploaded_after: str | None = None  # YYYYMMDD, inclusive
    uploaded_before: str | None = None

    def __post_init__(self) -> None:
        kinds = {
            "results": (int,),
            "min_duration_s": (int, type(None)),
            "max_duration_s": (int, type(None)),
            "language": (str, type(None)),
            "creative_commons": (bool,),
            "exclude_live": (bool,),
            "exclude_shorts": (bool,),
        }
        for name, allowed in kinds.items():
            value = getattr(self, name)
            if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
                names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
                raise KeywordError(f"{name} must be {names}, got {value!r}")
        if self.results < 1:
            raise KeywordError("results per keyword must be >= 1")
        for name in ("uploaded_after", "uploaded_before"):
            value = getattr(self, name)
            if value is not None and not (len(str(value)) == 8 and str(value).isdigit()):
                raise KeywordError(f"{name} must be YYYYMMDD, got {value!r}")


@dataclass(frozen=True)
class KeywordSpec:
    keyword: str
    category: str
    settings: SearchSettings


_KNOWN = {f.name for f in fields(SearchSettings)}


def _settings(base: SearchSettings, overrides: dict[str, Any], where: str) -> SearchSettings:
    unknown = set(overrides) - _KNOWN
    if unknown:
        raise KeywordError(f"{where}: unknown settings {sorted(unknown)}; known: {sorted(_KNOWN)}")
    try:
        return replace(
            base,
            **{
                k: (str(v) if k.startswith("uploaded") and v is not None else v)
                for k, v in overrides.items()
            },
        )
    except (TypeError, KeywordError) as exc:
        raise KeywordError(f"{where}: {exc}") from exc


def parse_keyword_doc(doc: Any, where: str, category: str) -> list[KeywordSpec]:
    """The keywords of one parsed keyword file (`where` names it in errors; `category`
    applies where the file names none)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("keywords"), list):
        raise KeywordError(f"{where}: expected a mapping with a `keywords` list")
    category = str(doc.get("category") or category)
    base = _settings(SearchSettings(), doc.get("defaults") or {}, f"{where} defaults")
    specs = []
    for i, item in enumerate(doc["keywords"]):
        at = f"{where} keyword {i + 1}"
        if isinstance(item, str):
            keyword, settings = item, base
        elif isinstance(item, dict) and isinstance(item.get("keyword"), str):
            rest = {k: v for k, v in item.items() if k != "keyword"}
            keyword, settings = item["keyword"], _settings(base, rest, at)
        else:
            raise KeywordError(f"{at}: a keyword is a string or a mapping with `keyword`")
        if not keyword.strip():
            raise KeywordError(f"{at}: empty keyword")
        specs.append(KeywordSpec(" ".join(keyword.split()), category, settings))
    return specs


def merge_keywords(files: list[list[KeywordSpec]], named: object) -> list[KeywordSpec]:
    """The keywords of several files; a keyword listed twice keeps its first settings."""
    seen: dict[str, KeywordSpec] = {}
    for specs in files:
        for spec in specs:
            seen.setdefault(spec.keyword.lower(), spec)
    if not seen:
        raise KeywordError(f"no keywords in {named}")
    return list(seen.values())
