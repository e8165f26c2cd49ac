"""A local `vllm serve` process for the caption stage (--vlm-serve), one per port on a
machine: started by the first worker process that needs it and waited for (as Beam's own vLLM
handler does), found and reused by the others, stopped when its starter exits.

Worker processes on one machine agree through a lock file per port: whoever holds it either
finds a server already answering there, or starts one and waits until it answers. The
server's stderr goes to a temporary file, not a pipe: nobody reads a pipe while the server
runs, and a server that writes 64 KiB there (progress bars, warnings) would block on it."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pipeline.models import ModelLoadError

log = logging.getLogger(__name__)

POLL_S = 0.5


def _serving(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def _port_lock(port: int, deadline: float) -> Iterator[None]:
    """The machine-wide lock for `port`, waited for until `deadline` (the system releases it
    when its holder dies, even by kill -9)."""
    path = Path(tempfile.gettempdir()) / f"ominous-vllm-{port}.lock"
    with open(path, "w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ModelLoadError(
                        f"another process kept the caption server's port {port} locked"
                    ) from None
                time.sleep(POLL_S)
        yield


class VllmServer:
    """`config` is a VlmConfig: serve_command, model, serve_port, endpoint, serve_timeout_s."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def start(self) -> None:
        """Reuse the server answering on the port, or start one and wait until it answers."""
        deadline = time.monotonic() + self.config.serve_timeout_s
        url = f"{self.config.endpoint}/models"
        with _port_lock(self.config.serve_port, deadline):
            if _serving(url):
                log.info("caption server already serving at %s", self.config.endpoint)
                return
            self._spawn()
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    code, err = self.process.returncode, self._stderr_tail()
                    self.stop()
                    raise ModelLoadError(f"the caption server exited with {code}: {err}")
                if _serving(url):
                    log.info("caption server ready at %s", self.config.endpoint)
                    return
                time.sleep(POLL_S)
            self.stop()
        raise ModelLoadError(
            f"the caption server was not ready within {self.config.serve_timeout_s:g} s"
        )

    def _spawn(self) -> None:
        cmd = shlex.split(
            self.config.serve_command.format(
                model=shlex.quote(self.config.model), port=self.config.serve_port
            )
        )
        log.info("starting the caption server: %s", cmd[0])
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (closed by stop())
        try:
            self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._stderr)
        except OSError as exc:
            self.stop()
            raise ModelLoadError(f"cannot start the caption server ({exc})") from exc

    def _stderr_tail(self, size: int = 500) -> str:
        """The last `size` bytes the server wrote to stderr."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0, 2)
        self._stderr.seek(max(self._stderr.tell() - size, 0))
        return self._stderr.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """Stop the server this process started (one it reused is its starter's)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
