"""An OpenAI-compatible chat server that checks requests the way vLLM does, for tests and
benchmarks on machines with no VLM.

It answers like `vllm serve` (same JSON shapes, status codes and error bodies) and can be
scripted per request to be slow, fail with 429/500, stall past the client's timeout, drip its
headers or its answer a byte at a time, answer 5 MB, echo the request's Authorization header
(in a 401, a 200 page that is no answer, or a 400 past the client's cut), or return garbage,
empty answers, refusals and runaway text. The caption it writes names the dominant colour of
the first frame, so different scenes get different captions.

Run alone: python tests/fake_vllm.py --port 8000 --model Qwen/Qwen2.5-VL-7B-Instruct
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.server
import io
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import Image

MAGIC = {"jpeg": b"\xff\xd8", "png": b"\x89PNG"}  # the image data URLs vLLM decodes
BEHAVIOURS = (
    "ok",
    "429",
    "500",
    "503",
    "garbage",
    "empty",
    "refusal",
    "runaway",
    "stall",
    "no_choices",
    "drip",
    "drip_headers",
    "huge",
    "echo_auth_401",
    "echo_auth_200_page",
    "echo_auth_400_long",
)


@dataclass
class ServerState:
    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    api_key: str | None = None
    latency_s: float = 0.0
    max_images: int = 8
    max_model_len: int = 4096
    stall_s: float = 5.0
    retry_after: str | None = None
    answer: str | None = None  # what every "ok" answer says (default: the frame's colour)
    script: deque[str] = field(default_factory=deque)
    requests: int = 0
    completions: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    images_seen: int = 0
    auth_headers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.script = deque(self.script)
        unknown = set(self.script) - set(BEHAVIOURS)
        if unknown:
            raise ValueError(f"unknown behaviours {sorted(unknown)}")

    def next_behaviour(self) -> str:
        with self.lock:
            return self.script.popleft() if self.script else "ok"


def _colour_name(jpeg: bytes) -> str:
    r, g, b = Image.open(io.BytesIO(jpeg)).convert("RGB").resize((1, 1)).getpixel((0, 0))
    if max(r, g, b) - min(r, g, b) < 30:
        return "dark grey" if max(r, g, b) < 100 else "light grey"
    return {0: "red", 1: "green", 2: "blue"}[max(range(3), key=(r, g, b).__getitem__)]


class _Handler(http.server.BaseHTTPRequestHandler):
    state: ServerState
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as uvicorn does: no 40 ms delayed-ACK stalls per answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read the state, not the log."""

    def _send(self, status: int, body: bytes | dict, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _trickle(self, data: bytes) -> None:
        """`data` a byte every 0.1 s for at most stall_s (a slow proxy): no read waits long."""
        until = time.monotonic() + self.state.stall_s
        for byte in data:
            if time.monotonic() > until:
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)

    def _drip(self, data: bytes) -> None:
        """Headers at once, then the body trickled."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self._trickle(data)

    def _drip_headers(self) -> None:
        """The status line and header lines trickled: the headers never end."""
        self._trickle(
            b"HTTP/1.1 200 OK\r\n"
            + b"".join(f"X-Padding-{i}: {'x' * 20}\r\n".encode() for i in range(1000))
        )

    def _error(self, status: int, message: str, kind: str = "BadRequestError") -> None:
        self._send(
            status,
            {"object": "error", "message": message, "type": kind, "param": None, "code": status},
        )

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, b"")
        elif self.path == "/v1/models":
            self._send(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": self.state.model,
                            "object": "model",
                            "owned_by": "vllm",
                            "max_model_len": self.state.max_model_len,
                        }
                    ],
                },
            )
        else:
            self._error(404, "Not Found", "NotFoundError")

    def do_POST(self) -> None:
        state = self.state
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        with state.lock:
            state.requests += 1
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            state.auth_headers.append(self.headers.get("Authorization", ""))
        try:
            self._complete(raw)
        finally:
            with state.lock:
                state.in_flight -= 1

    def _check(self, raw: bytes) -> tuple[dict, list[bytes]] | None:
        """vLLM's request validation, as far as a caption request can hit it."""
        state = self.state
        if state.api_key and self.headers.get("Authorization") != f"Bearer {state.api_key}":
            self._send(401, {"error": "Unauthorized"})
            return None
        if self.path != "/v1/chat/completions":
            self._error(404, "Not Found", "NotFoundError")
            return None
        try:
            req = json.loads(raw)
        except ValueError:
            self._error(400, "request body is not valid JSON")
            return None
        if req.get("model") != state.model:
            self._error(404, f"The model `{req.get('model')}` does not exist.", "NotFoundError")
            return None
        max_tokens = req.get("max_tokens")
        if max_tokens is not None and (
            not isinstance(max_tokens, int) or max_tokens < 1 or max_tokens > state.max_model_len
        ):
            self._error(400, f"max_tokens must be within 1..{state.max_model_len}")
            return None
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            self._error(400, "messages must be a non-empty list")
            return None
        images: list[bytes] = []
        for message in messages:
            content = message.get("content")
            parts = content if isinstance(content, list) else []
            for part in parts:
                if part.get("type") != "image_url":
                    continue
                url = part.get("image_url", {}).get("url", "")
                kind = next((k for k in MAGIC if url.startswith(f"data:image/{k};base64,")), None)
                if kind is None:
                    self._error(400, "image_url must be a base64 JPEG or PNG data URL")
                    return None
                data = base64.b64decode(url.split(",", 1)[1], validate=True)
                if not data.startswith(MAGIC[kind]):
                    self._error(400, f"image data is not a {kind.upper()}")
                    return None
                images.append(data)
        if len(images) > state.max_images:
            self._error(400, f"At most {state.max_images} image(s) may be provided in one prompt.")
            return None
        return req, images

    def _complete(self, raw: bytes) -> None:
        state = self.state
        checked = self._check(raw)
        if checked is None:
            return
        _, images = checked
        behaviour = state.next_behaviour()
        time.sleep(state.latency_s)
        if behaviour == "stall":
            time.sleep(state.stall_s)
        if behaviour in ("429", "500", "503"):
            headers = {"Retry-After": state.retry_after} if state.retry_after else None
            message = "Too Many Requests" if behaviour == "429" else "Internal Server Error"
            self._send(
                int(behaviour),
                {
                    "object": "error",
                    "message": message,
                    "type": "ServerError",
                    "code": int(behaviour),
                },
                headers,
            )
            return
        if behaviour == "echo_auth_401":  # a proxy that shows what it was sent
            self._error(
                401,
                f"invalid credentials: {self.headers.get('Authorization')}",
                "AuthenticationError",
            )
            return
        if behaviour == "echo_auth_200_page":  # a login page that is no answer
            page = f"<html>Signed in as {self.headers.get('Authorization')}</html>"
            self._send(200, page.encode())
            return
        if behaviour == "echo_auth_400_long":  # a refusal whose quote is cut at 300 chars
            self._error(
                400, "x" * 285 + f" header {self.headers.get('Authorization')}", "BadRequestError"
            )
            return
        if behaviour == "huge":
            self._send(200, b"{" + b" " * (5 << 20) + b"}")
            return
        if behaviour == "drip_headers":
            self._drip_headers()
            return
        if behaviour == "drip":
            self._drip(
                json.dumps(
                    {"choices": [{"message": {"content": "late"}, "finish_reason": "stop"}]}
                ).encode()
            )
            return
        if behaviour == "garbage":
            self._send(200, b"<html>502 Bad Gateway</html>")
            return
        if behaviour == "no_choices":
            self._send(200, {"id": "chatcmpl-x", "object": "chat.completion", "choices": []})
            return
        finish = "stop"
        if behaviour == "empty":
            text = ""
        elif behaviour == "refusal":
            text = "I'm sorry, but I can't help with describing these images."
        elif behaviour == "runaway":
            text, finish = "and then the scene continues " * 40, "length"
        elif state.answer is not None:
            text = state.answer
        else:
            colour = _colour_name(images[0]) if images else "plain"
            text = f"A mostly {colour} test pattern fills the screen while shapes move."
        with state.lock:
            state.completions += 1
            state.images_seen += len(images)
        self._send(
            200,
            {
                "id": f"chatcmpl-{state.requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": state.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": 100 * len(images),
                    "completion_tokens": 20,
                    "total_tokens": 100 * len(images) + 20,
                },
            },
        )


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that timed out hangs up mid-answer; that is expected here."""


@contextlib.contextmanager
def serve_fake_vllm(port: int = 0, **settings: object) -> Iterator[tuple[str, ServerState]]:
    """Yields (base URL ending in /v1, state) for a server on a loopback port."""
    state = ServerState(**settings)
    handler = type("Handler", (_Handler,), {"state": state})
    server = _Server(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default=ServerState.model)
    parser.add_argument("--startup-delay", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--answer", default=None, help="what every answer says")
    parser.add_argument("--stderr-kib", type=int, default=0, help="written to stderr at start")
    args = parser.parse_args()
    time.sleep(args.startup_delay)
    sys.stderr.write("loading shards " * (args.stderr_kib * 64))  # 16 bytes each: 1 KiB per 64
    sys.stderr.flush()
    with serve_fake_vllm(
        port=args.port, model=args.model, latency_s=args.latency, answer=args.answer
    ):
        threading.Event().wait()


if __name__ == "__main__":
    main()
