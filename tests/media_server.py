"""A loopback media server whose answers can be scripted per path: 200 (the file), 403, 404,
429, 500, a stall longer than the client's timeout, a truncated body, or a drip (the file's
headers, then one byte every 0.2 s, for at most `drip_s`). It counts requests per path."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from pathlib import Path


class Script:
    def __init__(self, root: Path, stall_s: float = 3.0, drip_s: float = 30.0) -> None:
        self.root = root
        self.stall_s = stall_s
        self.drip_s = drip_s
        self.plans: dict[str, deque[str]] = defaultdict(deque)
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()

    def plan(self, path: str, *answers: str) -> None:
        """Answers for the next requests of `path` ("200", "403", "stall", ...); then 200."""
        self.plans[path].extend(answers)

    def next(self, path: str) -> str:
        with self.lock:
            self.requests[path] += 1
            plan = self.plans[path]
            return plan.popleft() if plan else "200"


def _handler(script: Script) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(script.root), **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def _scripted(self) -> bool:
            answer = script.next(self.path.split("?")[0])
            if answer == "stall":
                time.sleep(script.stall_s)
                answer = "200"
            if answer == "truncate" and self.command == "GET":
                self._truncate()
                return True
            if answer == "drip" and self.command == "GET":
                self._drip()
                return True
            if answer in ("drip", "truncate"):
                answer = "200"
            if answer == "200":
                return False
            self.send_error(int(answer))
            return True

        def _drip(self) -> None:
            body = (script.root / self.path.split("?")[0].lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            until = time.monotonic() + script.drip_s
            for byte in body:
                if time.monotonic() > until:
                    break
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return
                time.sleep(0.2)

        def _truncate(self) -> None:
            """The whole file's length announced, half of it sent, the connection closed."""
            body = (script.root / self.path.split("?")[0].lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True

        def do_GET(self) -> None:
            if not self._scripted():
                super().do_GET()

        def do_HEAD(self) -> None:
            if not self._scripted():
                super().do_HEAD()

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that time out hang up; expected here."""


@contextlib.contextmanager
def scripted_server(
    root: Path, stall_s: float = 3.0, drip_s: float = 30.0
) -> Iterator[tuple[str, Script]]:
    script = Script(root, stall_s, drip_s)
    server = _Server(("127.0.0.1", 0), _handler(script))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()
