"""The chat client against the vLLM-like test server: retries, reasons, timeouts, concurrency."""

from __future__ import annotations

import logging
import sys
import time
from concurrent.futures import wait
from pathlib import Path

import numpy as np
import pytest
from fake_vllm import serve_fake_vllm

from pipeline.core.captions import CaptionRejected, CaptionRequestFailed
from pipeline.io.video import jpeg_bytes
from pipeline.io.vllm_server import VllmServer
from pipeline.models import ModelLoadError
from pipeline.models.vlm import ChatCaptioner, VlmConfig

MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
RED = jpeg_bytes(np.full((48, 64, 3), (220, 20, 20), dtype=np.uint8), 85)


def _client(url: str, sleeps: list[float] | None = None, **kw) -> ChatCaptioner:
    config = VlmConfig(model=MODEL, base_url=url, backoff_s=0.01, **kw)
    return ChatCaptioner(config, sleep=(sleeps.append if sleeps is not None else time.sleep))


def test_caption_comes_back_from_the_frames() -> None:
    with serve_fake_vllm(model=MODEL) as (url, state):
        answer = _client(url).caption([RED, RED])
    assert answer.text == "A mostly red test pattern fills the screen while shapes move."
    assert answer.attempts == 1 and state.images_seen == 2


@pytest.mark.parametrize("status", ["429", "500", "503"])
def test_transient_errors_are_retried_with_backoff(status: str) -> None:
    sleeps: list[float] = []
    with serve_fake_vllm(model=MODEL, script=[status, status]) as (url, state):
        answer = _client(url, sleeps).caption([RED])
    assert answer.attempts == 3 and state.requests == 3
    assert len(sleeps) == 2 and sleeps[0] < sleeps[1] * 2


def test_retry_after_is_honoured() -> None:
    sleeps: list[float] = []
    with serve_fake_vllm(model=MODEL, script=["429"], retry_after="7") as (url, _):
        _client(url, sleeps).caption([RED])
    assert sleeps == [7.0]


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "soon"])
def test_a_retry_after_that_is_no_wait_is_ignored_and_named(value: str) -> None:
    """A 429 whose Retry-After is negative, NaN, infinite or not a number: the client's own
    backoff applies (no crash on a negative sleep), and the failure names the header."""
    sleeps: list[float] = []
    with (
        serve_fake_vllm(model=MODEL, script=["429"] * 3, retry_after=value) as (url, _),
        pytest.raises(CaptionRequestFailed) as info,
    ):
        _client(url, sleeps, retries=2).caption([RED])
    assert len(sleeps) == 2 and all(0 <= s <= 1 for s in sleeps)
    assert f"Retry-After header {value!r} is not a wait" in str(info.value)


def test_retries_run_out() -> None:
    with (
        serve_fake_vllm(model=MODEL, script=["500"] * 10) as (url, state),
        pytest.raises(CaptionRequestFailed) as info,
    ):
        _client(url, [], retries=2).caption([RED])
    assert info.value.reason == "retries_exhausted" and state.requests == 3
    assert "HTTP 500" in str(info.value)


def test_permanent_errors_are_not_retried() -> None:
    with (
        serve_fake_vllm(model="another/model") as (url, state),
        pytest.raises(CaptionRequestFailed) as info,
    ):
        _client(url, []).caption([RED])
    assert info.value.reason == "http_404" and state.requests == 1
    assert f"The model `{MODEL}` does not exist." in str(info.value)


def test_too_many_images_is_a_clear_400() -> None:
    with (
        serve_fake_vllm(model=MODEL, max_images=2) as (url, state),
        pytest.raises(CaptionRequestFailed, match="http_400: At most 2 image"),
    ):
        _client(url, []).caption([RED] * 3)
    assert state.requests == 1


def test_timeouts_are_retried() -> None:
    with serve_fake_vllm(model=MODEL, script=["stall"], stall_s=2.0) as (url, state):
        answer = _client(url, [], timeout_s=0.5).caption([RED])
    assert answer.attempts == 2 and state.requests == 2


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("garbage", "malformed_response"),
        ("no_choices", "malformed_response"),
        ("empty", "empty_answer"),
        ("refusal", "refusal"),
        ("runaway", "runaway_length"),
    ],
)
def test_bad_answers_fail_with_their_reason(behaviour: str, reason: str) -> None:
    with (
        serve_fake_vllm(model=MODEL, script=[behaviour]) as (url, state),
        pytest.raises(CaptionRejected) as info,
    ):
        _client(url, []).caption([RED])
    assert info.value.reason == reason and state.requests == 1


def test_api_key_is_sent_and_never_shown(monkeypatch, caplog) -> None:
    secret = "sk-test-5f0c2d9a"
    monkeypatch.setenv("CAPTION_KEY", secret)
    caplog.set_level(logging.DEBUG)
    with serve_fake_vllm(model=MODEL, api_key=secret) as (url, state):
        assert _client(url, api_key_env="CAPTION_KEY").caption([RED]).attempts == 1
        assert state.auth_headers == [f"Bearer {secret}"]
        monkeypatch.setenv("CAPTION_KEY", "wrong")
        with pytest.raises(CaptionRequestFailed) as info:
            _client(url, [], api_key_env="CAPTION_KEY").caption([RED])
    assert info.value.reason == "http_401"
    assert secret not in str(info.value) and "wrong" not in str(info.value)
    assert secret not in caplog.text
    assert secret not in repr(VlmConfig(api_key_env="CAPTION_KEY"))


def test_concurrency_is_bounded_by_the_pool() -> None:
    with serve_fake_vllm(model=MODEL, latency_s=0.15) as (url, state):
        client = _client(url, concurrency=3)
        futures = [client.pool.submit(client.caption, [RED]) for _ in range(12)]
        wait(futures)
        assert all(f.result().attempts == 1 for f in futures)
    assert state.max_in_flight == 3


def test_vlm_serve_starts_the_server_and_waits(tmp_path: Path) -> None:
    script = Path(__file__).with_name("fake_vllm.py")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = VlmConfig(
        model=MODEL,
        serve=True,
        serve_port=port,
        serve_timeout_s=30,
        serve_command=f"{sys.executable} {script} --port {{port}} "
        f"--model {{model}} --startup-delay 1 --stderr-kib 256",  # 4x a pipe's buffer
    )
    server = VllmServer(config)
    server.start()
    try:
        assert ChatCaptioner(config).caption([RED]).text.startswith("A mostly red")
    finally:
        server.stop()
    assert server.process is None

    broken = VlmConfig(
        model=MODEL,
        serve=True,
        serve_port=port,
        serve_timeout_s=30,
        serve_command=f"{sys.executable} -c 'import sys; sys.exit(\"no GPU found\")'",
    )
    with pytest.raises(ModelLoadError, match="exited with 1: no GPU found"):
        VllmServer(broken).start()


@pytest.mark.timeout(60)
def test_the_timeout_bounds_each_request_not_each_read() -> None:
    """A server that drips its answer a byte every 0.1 s never trips a per-read timeout."""
    with (
        serve_fake_vllm(model=MODEL, script=["drip"], stall_s=30) as (url, _),
        pytest.raises(CaptionRequestFailed, match="timed out after 1 s") as info,
    ):
        _client(url, timeout_s=1.0, retries=0).caption([RED])
    assert info.value.reason == "retries_exhausted"
    started = time.monotonic()
    with (  # headers dripped a byte every 0.1 s: the deadline covers them too
        serve_fake_vllm(model=MODEL, script=["drip_headers"], stall_s=30) as (url, _),
        pytest.raises(CaptionRequestFailed, match="timed out after 1 s"),
    ):
        _client(url, timeout_s=1.0, retries=0).caption([RED])
    assert time.monotonic() - started < 10  # (it hung for as long as the server dripped)
    with (
        serve_fake_vllm(model=MODEL, script=["huge"]) as (url, _),
        pytest.raises(CaptionRequestFailed) as info,
    ):
        _client(url, retries=0).caption([RED])
    assert info.value.reason == "oversized"


def test_a_key_echoed_in_an_error_body_is_not_kept(monkeypatch) -> None:
    secret = "sk-test-4242-secret"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with (
        serve_fake_vllm(model=MODEL, script=["echo_auth_401"]) as (url, _),
        pytest.raises(CaptionRequestFailed) as info,
    ):
        _client(url).caption([RED])
    assert info.value.reason == "http_401" and "invalid credentials" in str(info.value)
    assert secret not in str(info.value) and "***" in str(info.value)
