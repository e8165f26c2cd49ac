"""`ominous eval run`'s speed: the server back end's requests per second against the test
server at fixed latency L and concurrency C, as a fraction of the ideal C / L (goal >= 0.9);
and the local back end's streaming steps per second with the KV cache against recomputing the
context at every step, on the tiny random-weight Qwen2-VL of the tests.

Both on real media: generated test-pattern videos and eval prompts of the hand-made samples
(streaming prompts step on a 2 fps grid, so most requests are streaming steps).

usage: python bench/eval_run.py [--smoke]   (--smoke: a few requests, figures not meaningful)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from caption_client import fake_server  # noqa: E402

MODEL = "bench/vlm"


def eval_set(root: Path, copies: int) -> Path:
    """EVAL for `copies` copies of the hand-made videos' test samples over generated media."""
    import pyarrow.parquet as pq
    from schema_rows import conform
    from test_eval_run import DURATIONS_S, _video
    from test_tasks import TABLES, _info

    from pipeline.core.tasks import BuildConfig, build_video
    from pipeline.evaluate import export_eval

    media = root / "media"
    media.mkdir()
    rows = []
    for vid, seconds in DURATIONS_S.items():
        _video(media / f"{vid}.mp4", seconds)
        base = build_video(_info(TABLES, vid), BuildConfig(window_ms=8000))
        for k in range(copies):
            (media / f"{vid}-{k}.mp4").symlink_to(media / f"{vid}.mp4")
            rows += [
                {
                    **r,
                    "video_id": f"{vid}-{k}",
                    "sample_id": f"{r['sample_id']}-{k}",
                    "split": "test",
                }
                for r in base
                if r["task"] in ("tsg_caption", "stop", "rev", "noise")
            ]
    for task in {r["task"] for r in rows}:
        part = root / "samples" / "samples" / f"task={task}" / "split=test"
        part.mkdir(parents=True)
        pq.write_table(
            conform([r for r in rows if r["task"] == task], "samples"), part / "a.parquet"
        )
    export_eval(str(root / "samples"), str(root / "eval"), video_root=str(media))
    return root / "eval"


def server_row(eval_dir: Path, latency: float, concurrency: int) -> tuple[int, float]:
    from pipeline.core import predict as P
    from pipeline.predict import ServerModel, ShowSettings, read_prompts, run

    prompts = read_prompts(str(eval_dir))
    requests = sum(
        len(P.stream_steps(p, P.grid_fps(p))) if p["mode"] == "stream" else 1 for p in prompts
    )
    settings = ShowSettings(max_frames=4, image_size=112)
    with fake_server(latency) as url, tempfile.TemporaryDirectory() as tmp:
        model = ServerModel(url, MODEL, settings, None, concurrency=concurrency)
        start = time.perf_counter()
        run(str(eval_dir), f"{tmp}/p.jsonl", model, settings, progress=False)
        elapsed = time.perf_counter() - start
        model.close()
    return requests, requests / elapsed


def local_row(eval_dir: Path, tmp: Path, limit: int) -> tuple[int, float, float]:
    from test_eval_run import tiny_qwen2vl

    from pipeline.core import predict as P
    from pipeline.models.local_vlm import LocalQwen2VL
    from pipeline.predict import ShowSettings, _frames, read_prompts

    folder = tiny_qwen2vl(tmp / "tiny")
    settings = ShowSettings(max_frames=4, image_size=56, max_tokens=3)
    prompts = [p for p in read_prompts(str(eval_dir)) if p["mode"] == "stream"][:limit]
    work = [(p, _frames(p, settings), P.stream_steps(p, P.grid_fps(p))) for p in prompts]
    steps = sum(len(s) for _, _, s in work)
    rates = []
    for use_cache in (True, False):
        model = LocalQwen2VL(str(folder), settings, use_cache=use_cache)
        model.stream(*work[0])  # warm-up
        start = time.perf_counter()
        for p, frames, s in work:
            model.stream(p, frames, s)
        rates.append(steps / (time.perf_counter() - start))
    return steps, rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    copies, latency, limit = (1, 0.01, 1) if args.smoke else (6, args.latency, 4)
    with tempfile.TemporaryDirectory() as tmp:
        eval_dir = eval_set(Path(tmp), copies)
        n, rps = server_row(eval_dir, latency, args.concurrency)
        ideal = args.concurrency / latency
        print(
            f"server back end: {n} requests, {rps:.1f} req/s = {rps / ideal:.2f} of C/L "
            f"(C={args.concurrency}, L={latency:g} s, ideal {ideal:.1f} req/s)"
        )
        steps, cached, fresh = local_row(eval_dir, Path(tmp), limit)
        print(
            f"local back end, tiny Qwen2-VL: {steps} streaming steps, {cached:.1f} steps/s "
            f"with the KV cache, {fresh:.1f} steps/s recomputing every step "
            f"({cached / fresh:.2f}x)"
        )


if __name__ == "__main__":
    main()
