"""Chat-completions requests and answers for clip captions, as vLLM's OpenAI server speaks them."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import Any

from pipeline.core.prompts import Prompt

DRY_RUN_CAPTION = "[dry-run] not a caption: no vision-language model was called for this clip."

_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry, (but )?i|i can ?not|i can't|i'?m (not )?(un)?able|"
    r"i am (not )?(un)?able|as an ai|unfortunately,? i)",
    re.IGNORECASE,
)


class CaptionError(Exception):
    """A clip got no caption; `reason` is a short stable word for the failures table."""

    reason = "caption_failed"

    def __str__(self) -> str:
        return f"{self.reason}: {super().__str__()}"


class CaptionRejected(CaptionError):
    """The model answered, but not with a usable caption."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class CaptionRequestFailed(CaptionError):
    """The server could not be asked: a permanent HTTP error, or retries ran out."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def chat_request(
    model: str, prompt: Prompt, jpegs: Sequence[bytes], max_tokens: int, temperature: float
) -> dict[str, Any]:
    """One user turn: the frames as image parts first, then the instruction."""
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": data_url(j)}} for j in jpegs
    ]
    content.append({"type": "text", "text": prompt.render(len(jpegs))})
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": content},
        ],
        "max_tokens": max_tokens,
        "temperature": temperature,
    }


def parse_answer(body: bytes) -> tuple[str, str | None]:
    """(content, finish_reason) from a chat-completions response body."""
    try:
        doc = json.loads(body)
        choice = doc["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        snippet = body[:120].decode("utf-8", "replace")
        raise CaptionRejected(
            "malformed_response", f"not a chat completion ({type(exc).__name__}): {snippet!r}"
        ) from exc
    if content is not None and not isinstance(content, str):
        raise CaptionRejected("malformed_response", "message content is not text")
    return content or "", choice.get("finish_reason")


def validate_caption(content: str, finish_reason: str | None, max_chars: int) -> str:
    """A clean one-paragraph caption, or CaptionRejected with the reason."""
    text = " ".join(content.split()).strip().strip('"').strip()
    if not text:
        raise CaptionRejected("empty_answer", "the model returned no text")
    if finish_reason == "length" or len(text) > max_chars:
        raise CaptionRejected(
            "runaway_length",
            f"answer cut at the token limit or over {max_chars} characters "
            f"({len(text)} characters, finish_reason={finish_reason})",
        )
    if _REFUSAL.match(text):
        raise CaptionRejected("refusal", f"the model declined: {text[:80]!r}")
    return text
