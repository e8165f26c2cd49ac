"""Prompt registry, chat request building and answer validation (no server)."""

from __future__ import annotations

import base64
import json

import pytest

from pipeline.core.captions import (
    CaptionRejected,
    chat_request,
    parse_answer,
    validate_caption,
)
from pipeline.core.prompts import PROMPTS, get_prompt

JPEG = b"\xff\xd8\xff\xe0fake"


def test_prompts_are_versioned_and_hashed() -> None:
    p = get_prompt("clip-caption-v1")
    assert len(p.hash) == 12 and p.hash == get_prompt("clip-caption-v1").hash
    assert len({q.hash for q in PROMPTS.values()}) == len(PROMPTS)
    assert "3 images" in p.render(3)
    with pytest.raises(ValueError, match="unknown prompt id"):
        get_prompt("nope")


def test_request_puts_frames_first_as_jpeg_data_urls() -> None:
    req = chat_request("m", get_prompt("clip-caption-v1"), [JPEG, JPEG], 64, 0.0)
    assert req["model"] == "m" and req["max_tokens"] == 64
    system, user = req["messages"]
    assert system["role"] == "system"
    parts = user["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    url = parts[0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == JPEG
    json.dumps(req)  # serialisable as sent


@pytest.mark.parametrize(
    ("content", "finish", "reason"),
    [
        ("", "stop", "empty_answer"),
        ("   \n ", "stop", "empty_answer"),
        ("I'm sorry, but I can't describe these images.", "stop", "refusal"),
        ("As an AI, I cannot see video.", "stop", "refusal"),
        ("A man slices bread " * 3, "length", "runaway_length"),
        ("word " * 400, "stop", "runaway_length"),
    ],
)
def test_unusable_answers_are_rejected_with_a_reason(content, finish, reason) -> None:
    with pytest.raises(CaptionRejected) as info:
        validate_caption(content, finish, max_chars=800)
    assert info.value.reason == reason
    assert str(info.value).startswith(f"{reason}: ")


def test_good_answer_is_cleaned() -> None:
    assert validate_caption('  "A cook stirs\n soup in a pot."  ', "stop", 800) == (
        "A cook stirs soup in a pot."
    )


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b'{"choices": []}', b'{"choices": [{"message": {}}]}', b'{"id": 1}'],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(CaptionRejected, match="malformed_response"):
        parse_answer(body)


def test_parse_answer() -> None:
    body = json.dumps(
        {"choices": [{"message": {"role": "assistant", "content": "Hi."}, "finish_reason": "stop"}]}
    ).encode()
    assert parse_answer(body) == ("Hi.", "stop")
