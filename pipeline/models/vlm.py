"""The caption model: a client for an OpenAI-compatible server (vLLM), or the dry-run stand-in.

The API key is read from an environment variable at setup and only ever put in the request
header; messages and logs never contain it.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pipeline.core.backoff import backoff_s
from pipeline.core.captions import (
    DRY_RUN_CAPTION,
    CaptionRejected,
    CaptionRequestFailed,
    chat_request,
    parse_answer,
    validate_caption,
)
from pipeline.core.prompts import PROMPTS, Prompt, get_prompt
from pipeline.core.redact import redact_text
from pipeline.core.settings import Flag, setting
from pipeline.io import http_deadline
from pipeline.io.vllm_server import VllmServer
from pipeline.models.handler import ModelHandler

log = logging.getLogger(__name__)

DRY_RUN = "dry-run"
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 1 << 20  # a caption is a few hundred bytes; a bigger answer is broken
DEFAULT_SERVE_COMMAND = (
    "vllm serve {model} --host 127.0.0.1 --port {port} "
    "--max-model-len 16384 --limit-mm-per-prompt '{{\"image\": 8}}'"
)


@dataclass(frozen=True)
class VlmConfig:
    """What decides a caption (model, prompt, image settings, tokens, temperature) enters the
    content hash; how it is fetched (endpoint, retries, concurrency, a local server) does not."""

    model: str = setting(
        DRY_RUN,
        flag=Flag("vlm-model", "model name the VLM server serves, or dry-run (no captions)"),
    )
    base_url: str = setting(
        "http://127.0.0.1:8000/v1",
        flag=Flag("vlm-base-url", "OpenAI-compatible API base URL"),
        content=False,
    )
    api_key_env: str = setting(
        "OPENAI_API_KEY",
        flag=Flag("vlm-api-key-env", "environment variable holding the API key"),
        content=False,
    )
    prompt_id: str = setting(
        "clip-caption-v1", flag=Flag("vlm-prompt", choices=tuple(sorted(PROMPTS)))
    )
    image_size: int = setting(
        448, flag=Flag("vlm-image-size", "long side of each frame sent, in pixels")
    )
    jpeg_quality: int = 85
    max_tokens: int = setting(160, flag=Flag("vlm-max-tokens"))
    temperature: float = 0.0
    max_chars: int = setting(800, content=False)
    timeout_s: float = setting(
        120.0,
        flag=Flag("vlm-timeout-s", "deadline of one request, reading the answer included"),
        content=False,
    )
    retries: int = setting(4, flag=Flag("vlm-retries"), content=False)
    backoff_s: float = setting(1.0, flag=Flag("vlm-backoff-s"), content=False)
    max_backoff_s: float = setting(60.0, content=False)
    concurrency: int = setting(
        8, flag=Flag("vlm-concurrency", "requests in flight per worker"), content=False
    )
    serve: bool = setting(
        False,
        flag=Flag(
            "vlm-serve", "start a local `vllm serve` on each worker and wait for it", switch=True
        ),
        content=False,
    )
    serve_command: str = setting(
        DEFAULT_SERVE_COMMAND, flag=Flag("vlm-serve-command"), content=False
    )
    serve_port: int = setting(8000, flag=Flag("vlm-serve-port"), content=False)
    serve_timeout_s: float = setting(1200.0, content=False)

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.retries < 0:
            raise ValueError("caption concurrency must be >= 1 and retries >= 0")
        get_prompt(self.prompt_id)

    @property
    def dry_run(self) -> bool:
        return self.model == DRY_RUN

    @property
    def endpoint(self) -> str:
        base = f"http://127.0.0.1:{self.serve_port}/v1" if self.serve else self.base_url
        return base.rstrip("/")


@dataclass(frozen=True)
class Answer:
    text: str
    attempts: int


def _retry_after(value: str | None) -> float | None:
    """Seconds a server asks to wait; None where it says nothing usable (negative, NaN or
    infinite values included: the caller's own backoff applies then)."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < float("inf") else None


class ChatClient:
    """Bounded-concurrency chat-completions client with retries on transient failures: the
    caption stage's and `ominous eval run`'s. The API key is read from an environment
    variable and only ever put in the request header."""

    def __init__(
        self,
        endpoint: str,
        api_key_env: str | None,
        timeout_s: float,
        retries: int,
        backoff_s: float,
        max_backoff_s: float,
        concurrency: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        key = os.environ.get(api_key_env) if api_key_env else None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._secrets = tuple(x for x in (key,) if x)
        self.timeout_s, self.retries = timeout_s, retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._http = httpx.Client(
            base_url=endpoint.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            transport=http_deadline.transport(limits=limits),
        )
        self._sleep = sleep
        self._httpx = httpx

    def _post(self, body: dict) -> tuple[int, str | None, bytes]:
        """One request, bounded as a whole: `timeout_s` from connecting to the answer's last
        byte, headers included (io/http_deadline.py: httpx bounds each read only, and a
        server that drips never trips that), and at most MAX_RESPONSE_BYTES. Returns
        status, Retry-After and the body."""
        with (
            http_deadline.deadline(self.timeout_s),
            self._http.stream("POST", "/chat/completions", json=body) as response,
        ):
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise CaptionRequestFailed(
                        "oversized", f"the answer passed {MAX_RESPONSE_BYTES} bytes"
                    )
                chunks.append(chunk)
            return response.status_code, response.headers.get("retry-after"), b"".join(chunks)

    def redact(self, text: str) -> str:
        """Servers may echo a request's headers in their errors (or in a 200 page that is no
        answer): never store the key, nor a start of it where the text was cut."""
        return redact_text(text, self._secrets)

    def complete(self, body: dict) -> tuple[str, str | None, int]:
        """(content, finish_reason, attempts) of one chat completion; CaptionRequestFailed
        when the server refuses for good or the retries run out."""
        httpx = self._httpx
        last = ""
        for attempt in range(self.retries + 1):
            hint = None
            try:
                status, retry_after, content = self._post(body)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout_s:g} s"
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__})"
            else:
                if status == 200:
                    try:
                        text, finish = parse_answer(content)
                    except CaptionRejected as exc:
                        raise CaptionRejected(exc.reason, self.redact(str(exc.args[0]))) from None
                    return text, finish, attempt + 1
                detail = self.redact(_error_message(content))
                if status not in TRANSIENT_STATUS:
                    raise CaptionRequestFailed(f"http_{status}", detail)
                last = f"HTTP {status}: {detail}"
                hint = _retry_after(retry_after)
                if retry_after is not None and hint is None:
                    last += f" (its Retry-After header {retry_after[:40]!r} is not a wait: ignored)"
            if attempt < self.retries:
                self._sleep(backoff_s(attempt, self.backoff_s, self.max_backoff_s, hint))
        raise CaptionRequestFailed(
            "retries_exhausted", f"gave up after {self.retries + 1} attempts; last: {last}"
        )

    def close(self) -> None:
        self._http.close()


class ChatCaptioner(ChatClient):
    """The caption stage's client: the prompt's request, the answer checked as a caption."""

    def __init__(self, config: VlmConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(
            config.endpoint,
            config.api_key_env,
            config.timeout_s,
            config.retries,
            config.backoff_s,
            config.max_backoff_s,
            config.concurrency,
            sleep,
        )
        self.config = config
        self.prompt: Prompt = get_prompt(config.prompt_id)
        self.model_name = config.model
        self.pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="caption")

    def caption(self, jpegs: Sequence[bytes]) -> Answer:
        body = chat_request(
            self.config.model, self.prompt, jpegs, self.config.max_tokens, self.config.temperature
        )
        text, finish, attempts = self.complete(body)
        return Answer(validate_caption(text, finish, self.config.max_chars), attempts)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        super().close()


def _error_message(content: bytes) -> str:
    """vLLM answers errors as {"object": "error", "message": ...} (or {"error": {...}})."""
    try:
        doc = json.loads(content)
    except ValueError:
        return content[:200].decode("utf-8", "replace")
    if isinstance(doc, dict):
        err = doc.get("error", doc)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
    return str(doc)[:200]


class DryRunCaptioner:
    """For machines with no VLM: every clip gets a text that says plainly it is no caption."""

    model_name = DRY_RUN

    def __init__(self, config: VlmConfig) -> None:
        self.config = config
        self.prompt = get_prompt(config.prompt_id)
        self.pool = ThreadPoolExecutor(max_workers=1)

    def caption(self, jpegs: Sequence[bytes]) -> Answer:
        return Answer(DRY_RUN_CAPTION, 0)

    def close(self) -> None:
        self.pool.shutdown(wait=False)


def make_captioner(config: VlmConfig) -> ChatCaptioner | DryRunCaptioner:
    return DryRunCaptioner(config) if config.dry_run else ChatCaptioner(config)


@dataclass(frozen=True)
class CaptionerHandler(ModelHandler["ChatCaptioner | DryRunCaptioner"]):
    """One client per worker process; with --vlm-serve also the machine's local vLLM server
    (io/vllm_server.py), started by the first process that needs it and stopped when that
    process exits."""

    config: VlmConfig

    def load_model(self) -> ChatCaptioner | DryRunCaptioner:
        if self.config.serve and not self.config.dry_run:
            server = VllmServer(self.config)
            server.start()
            atexit.register(server.stop)
        return make_captioner(self.config)
