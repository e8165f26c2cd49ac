"""Credentials out of everything the pipeline writes: run records (options) and failures
(messages, tracebacks, URIs). One place, so no writer can forget one kind.

What counts as a credential: the userinfo of any URL (`user:password@`), an `Authorization`
value (Bearer or Basic), the value of an option or `key=value` item whose name says secret
(password, passwd, token, secret, cookie, api key, auth), a proxy's userinfo, and any
secret the caller knows by value (the API key read from the environment), with its
beginning where a message was cut inside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

HIDDEN = "***"
_SECRET_NAME = re.compile(
    r"(^|[_-])(pass(word|wd)?|token|secret|cookies?|api[_-]?key|auth(orization)?|credentials?)$",
    re.I,
)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/@\s'\"]+)@")
_AUTH = re.compile(r"(?P<kind>\b(?:Bearer|Basic|Token)\s+)(?P<value>[A-Za-z0-9._~+/=-]{4,})", re.I)
_ITEM = re.compile(
    r"(?P<name>[\"']?[A-Za-z_][A-Za-z0-9_-]*[\"']?\s*[=:]\s*)(?P<value>[\"']?[^\s,;&'\"]+[\"']?)"
)
MIN_PREFIX = 6  # the shortest cut-off start of a known secret that is hidden too


def secret_name(name: str) -> bool:
    """Whether an option or item named so holds a secret: its last word says so
    (`proxy_password`, `api_key`; not `api_key_env`, which names a variable, nor
    `max_tokens`)."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every credential in it replaced by ***."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
        for n in range(len(secret) - 1, MIN_PREFIX - 1, -1):  # a message cut inside it
            if text.endswith(secret[:n]):
                text = text[:-n] + HIDDEN
                break
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{HIDDEN}@", text)
    text = _AUTH.sub(lambda m: f"{m['kind']}{HIDDEN}", text)
    return _ITEM.sub(
        lambda m: m["name"] + HIDDEN if secret_name(m["name"].strip("\"' =:")) else m[0], text
    )


def redact_value(name: str, value: Any) -> Any:
    """An option's value as it may be written: whole secrets hidden, URLs without their
    userinfo, `KEY=VALUE` items with secret keys hidden; lists item by item."""
    if isinstance(value, list | tuple):
        return [redact_value(name, v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(k, v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float):
        return value
    if secret_name(name):
        return HIDDEN
    text = str(value)
    if "proxy" in name.lower() and "@" in text and "://" not in text:  # user:pass@host:port
        text = f"{HIDDEN}@{text.rsplit('@', 1)[1]}"
    return redact_text(text)


def redact_options(options: dict[str, Any]) -> dict[str, Any]:
    return {name: redact_value(name, value) for name, value in options.items()}
