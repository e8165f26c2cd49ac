"""Stage settings as the one source of their command-line flags, their defaults and what enters
a run's content hash (the NeMo Curator way: config on the stage).

A field declared with `setting(...)` carries its flag's one name (`asr-model`: the option is
accepted as `--asr-model` and `--asr_model`, its dest is `asr_model`), its help, and whether
it changes annotation content. Beam's options class adds the flags of each config
(`add_flags`), and the configs are built back from the parsed options (`from_options`), so a
default is written once, on the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # a Flag without a default of its own takes the field's


@dataclass(frozen=True)
class Flag:
    name: str  # with dashes, no leading "--"
    help: str | None = None
    type: Callable[[str], Any] | None = None  # argparse type; default: the default's type
    choices: tuple[str, ...] | None = None
    switch: bool = False  # a store_true flag, off by default
    repeat: bool = False  # may be given several times; the option's value is a list
    parse: Callable[[Any], Any] | None = None  # the option's value -> the field's value
    default: Any = UNSET  # the option's own default, where the field's differs in kind

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


def setting(
    default: Any = MISSING,
    *,
    flag: Flag | None = None,
    content: bool = True,
    default_factory: Any = MISSING,
) -> Any:
    """A config field; `content=False` for what does not change the annotations (batch
    sizes, threads, endpoints, retries), which then stays out of the content hash."""
    meta = {"flag": flag, "content": content}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise TypeError(f"setting {f.name} has no default")


def flags(config_cls: type) -> list[tuple[Field[Any], Flag]]:
    return [(f, f.metadata["flag"]) for f in fields(config_cls) if f.metadata.get("flag")]


def add_flags(add: Callable[..., Any], config_cls: type) -> None:
    """Add each flagged field of `config_cls` through `add` (an argparse add_argument)."""
    for f, spec in flags(config_cls):
        default = spec.default if spec.default is not UNSET else _default(f)
        names = [f"--{spec.dest}", f"--{spec.name}"] if "-" in spec.name else [f"--{spec.name}"]
        kwargs: dict[str, Any] = {"dest": spec.dest, "help": spec.help}
        if spec.switch:
            kwargs.update(action="store_true", default=False)
        elif spec.repeat:
            kwargs.update(action="append", default=list(default or []))
        else:
            kind = spec.type or (type(default) if default is not None else str)
            kwargs.update(default=default, type=kind)
            if spec.choices:
                kwargs["choices"] = list(spec.choices)
        add(*names, **kwargs)


def from_options(config_cls: type, options: Any, **fixed: Any) -> Any:
    """The config from parsed options: each flagged field from its option (through its
    `parse`), the rest at their defaults unless given in `fixed`."""
    values = dict(fixed)
    for f, spec in flags(config_cls):
        value = getattr(options, spec.dest)
        values[f.name] = spec.parse(value) if spec.parse else value
    return config_cls(**values)


def content(config: Any) -> dict[str, Any]:
    """The fields of a config that change annotation content, for the content hash."""
    return {
        f.name: getattr(config, f.name) for f in fields(config) if f.metadata.get("content", True)
    }
