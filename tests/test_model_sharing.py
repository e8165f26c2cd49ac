"""Models load once per worker process, however many threads set their DoFns up at once (as
Dataflow's harness threads do), and a machine runs one local vLLM server per port."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from tiny_clip import NAME

from pipeline import cli
from pipeline.io.vllm_server import VllmServer
from pipeline.models import handler
from pipeline.models.clip import ClipHandler
from pipeline.models.langid import LangIdHandler
from pipeline.models.segmenter import SegmenterHandler
from pipeline.models.vlm import CaptionerHandler, VlmConfig
from pipeline.models.whisper import AsrHandler
from pipeline.stages.inspect import InspectorsHandler

MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
FAKE_VLLM = Path(__file__).with_name("fake_vllm.py")
HANDLERS = (AsrHandler, SegmenterHandler, LangIdHandler, ClipHandler, CaptionerHandler)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_command() -> str:
    return f"{sys.executable} {FAKE_VLLM} --port {{port}} --model {{model}} --startup-delay 1"


@pytest.fixture
def counted_loads(monkeypatch) -> Counter:
    """Each handler's load_model counted and given the half second a real load takes at
    least; handles start fresh, so nothing an earlier test loaded counts."""
    monkeypatch.setattr(handler, "_HANDLES", {})
    loads: Counter = Counter()
    lock = threading.Lock()
    for cls in (*HANDLERS, InspectorsHandler):

        def counted(self, _load=cls.load_model, _name=cls.__name__):
            with lock:
                loads[_name] += 1
            time.sleep(0.5)
            return _load(self)

        monkeypatch.setattr(cls, "load_model", counted)
    spawn = VllmServer._spawn

    def counted_spawn(self):
        with lock:
            loads["vllm serve"] += 1
        spawn(self)

    monkeypatch.setattr(VllmServer, "_spawn", counted_spawn)
    return loads


@pytest.mark.slow
def test_four_threads_load_each_model_once(
    corpus, tmp_path, tiny_sat, tiny_clip_config, counted_loads
) -> None:
    root, _ = corpus
    media = tmp_path / "media"
    media.mkdir()
    for name in ("kitchen", "bicycle", "garden", "quiet"):
        os.link(root / f"{name}.mp4", media / f"{name}.mp4")
    argv = ["annotate", "--media-dir", str(media), "--out", str(tmp_path / "out")]
    argv += ["--segmenter", str(tiny_sat), "--clip-model", NAME, "--clip-pretrained", "none"]
    argv += ["--clip-config", str(tiny_clip_config), "--vlm-model", MODEL, "--vlm-serve"]
    argv += ["--vlm-serve-port", str(_free_port()), "--vlm-serve-command", _serve_command()]
    argv += ["--direct_running_mode", "multi_threading", "--direct_num_workers", "4"]
    assert cli.main(argv) == cli.EXIT_OK  # (the fake server stops when pytest exits)
    assert counted_loads == {name.__name__: 1 for name in HANDLERS} | {
        "InspectorsHandler": 1,
        "vllm serve": 1,
    }, counted_loads


def test_one_server_per_port_across_starters(tmp_path) -> None:
    """Two starters (worker processes, here threads with their own VllmServer) at once: one
    starts the server, the other waits on the port's lock and reuses it."""
    config = VlmConfig(
        model=MODEL,
        serve=True,
        serve_port=_free_port(),
        serve_timeout_s=30,
        serve_command=_serve_command(),
    )
    servers = [VllmServer(config), VllmServer(config)]
    threads = [threading.Thread(target=s.start) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert sum(s.process is not None for s in servers) == 1
    finally:
        for s in servers:
            s.stop()


def test_equal_handlers_share_one_handle_and_model() -> None:
    """The frames and score stages ask with equal CLIP handlers: one handle, one model."""
    a, b = LangIdHandler().share(), LangIdHandler().share()
    assert a is b and a.acquire() is b.acquire()
