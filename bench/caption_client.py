"""Caption client throughput against the vLLM-like test server at fixed latency L and
concurrency C, as a fraction of the ideal C / L requests per second
(goals: >= 0.9 for the client, >= 0.95 for the stage).

Two rows: the client alone (requests with four 448-pixel JPEG frames each), and the whole
CaptionClips stage in a Beam pipeline (keyframe decoding and JPEG encoding included) on clips
of a synthetic video.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

FAKE_SERVER = Path(__file__).resolve().parents[1] / "tests" / "fake_vllm.py"
MODEL = "bench/vlm"


@contextlib.contextmanager
def fake_server(latency: float) -> Iterator[str]:
    """The test server in its own process, so it does not share the client's GIL."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            str(FAKE_SERVER),
            "--port",
            str(port),
            "--model",
            MODEL,
            "--latency",
            str(latency),
        ]
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/models").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait()


def client_throughput(url: str, n: int, concurrency: int) -> float:
    from concurrent.futures import wait

    from pipeline.io.video import jpeg_bytes
    from pipeline.models.vlm import ChatCaptioner, VlmConfig

    ramp = np.linspace(0, 255, 448, dtype=np.uint8)
    picture = np.stack([np.broadcast_to(ramp, (252, 448))] * 3, axis=-1).copy()
    picture[40:120, 60:200] = (200, 40, 40)
    frame = jpeg_bytes(picture, 85)
    client = ChatCaptioner(VlmConfig(model=MODEL, base_url=url, concurrency=concurrency))
    client.caption([frame] * 4)  # connection warm-up
    start = time.perf_counter()
    wait([client.pool.submit(client.caption, [frame] * 4) for _ in range(n)])
    elapsed = time.perf_counter() - start
    client.close()
    return n / elapsed


def stage_throughput(url: str, n: int, concurrency: int, model: str = MODEL) -> float:
    import apache_beam as beam

    from pipeline.core.scenes import SceneConfig
    from pipeline.models.vlm import VlmConfig
    from pipeline.records import MediaFile, Probe, Source, Video
    from pipeline.stages.caption import CaptionClips
    from pipeline.stages.frames import FrameConfig, sample_frames
    from pipeline.stages.scenes import detect
    from pipeline.synthetic import Spec, make_video

    work = Path(tempfile.mkdtemp())
    make_video(Spec("bench", (("testsrc2", 20_000),), audio=False), work)
    path = str(work / "bench.mp4")
    video = Video(
        MediaFile(Source(path, "file"), "bench", path),
        Probe(0, 0, None, None, None, None, None, None, None, 0, 0),
        "",
        "train",
    )
    plan = detect(sample_frames(video, FrameConfig(), None), SceneConfig(max_clip_ms=2000))
    clips = [replace(plan.clips[i % len(plan.clips)], index=i) for i in range(n)]
    config = VlmConfig(model=model, base_url=url, concurrency=concurrency)
    start = time.perf_counter()
    with beam.Pipeline() as p:
        _ = p | beam.Create(clips) | CaptionClips(config, None)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=240)
    parser.add_argument(
        "--stage-requests",
        type=int,
        default=960,
        help="30 s of requests at the defaults: long enough that the pipeline's "
        "start and finish weigh as little as in a run of thousands of clips",
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does the bench work")
    args = parser.parse_args()
    if args.smoke:
        args.latency, args.requests, args.stage_requests = 0.01, 16, 32
    ideal = args.concurrency / args.latency
    # Warm-up, as the client gets one request before its clock starts: the first pipeline in
    # a process imports the runner's modules (about 0.3 s, once per worker, not per clip).
    stage_throughput("", 16, args.concurrency, model="dry-run")
    with fake_server(args.latency) as url:
        client = client_throughput(url, args.requests, args.concurrency)
        stage = stage_throughput(url, args.stage_requests, args.concurrency)
    # The same pipeline with the dry-run captioner: everything but the requests.
    overhead = args.stage_requests / stage_throughput(
        "", args.stage_requests, args.concurrency, model="dry-run"
    )
    print(f"L = {args.latency:g} s, C = {args.concurrency}, ideal C/L = {ideal:.1f} req/s")
    print(
        f"  client alone      {client:6.1f} req/s  fraction of C/L {client / ideal:.2f}  "
        "(goal >= 0.9)"
    )
    print(
        f"  CaptionClips      {stage:6.1f} req/s  fraction of C/L {stage / ideal:.2f}  "
        "(with pipeline start, keyframe decoding and JPEG encoding; goal >= 0.95)"
    )
    busy = args.stage_requests / stage - overhead
    print(
        f"    of which the dry-run pipeline takes {overhead:.1f} s; the requests "
        f"{busy:.1f} s: {args.stage_requests / busy / ideal:.2f} of C/L"
    )


if __name__ == "__main__":
    main()
