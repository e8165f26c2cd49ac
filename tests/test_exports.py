"""Exports checked against what each trainer's loader requires (tests/consumer_contracts.py),
label layouts pinned per task and format (UPDATE_GOLDEN=1 rewrites them), times on the origin
each trainer shows, media paths that exist, and `datasets` reading every JSON export."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import consumer_contracts as cc
import pyarrow.parquet as pq
import pytest
import yaml
from schema_rows import conform
from test_tasks import TABLES, _info

from pipeline import cli, synthetic
from pipeline.core import exporters, formats
from pipeline.core.exporters import ExportError
from pipeline.core.formats import FORMATS
from pipeline.core.tasks import TASKS, BuildConfig, build_video
from pipeline.export import export

GOLDEN = Path(__file__).with_name("golden") / "labels"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
VIDEOS = ("v1", "empty", "one")


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    config = BuildConfig(window_ms=8000)  # windows that start inside the video, not at 0
    return [r for v in VIDEOS for r in build_video(_info(TABLES, v), config)]


def _mixture(folder: Path, rows: list[dict], replay: list[dict] | None = None) -> Path:
    folder.mkdir(parents=True)
    pq.write_table(
        conform([{**r, "mixture": "test"} for r in rows], "samples"), folder / "mixture.parquet"
    )
    if replay:  # as mix writes them: media paths absolute, the files there
        absolute = []
        for r in replay:
            for key in ("video", "image"):
                if key in r:
                    (folder / r[key]).parent.mkdir(exist_ok=True)
                    (folder / r[key]).write_bytes(b"x")
                    r = {**r, key: str(folder / r[key])}
            absolute.append(r)
        (folder / "replay.jsonl").write_text("".join(json.dumps(r) + "\n" for r in absolute))
    (folder / "mixture.yaml").write_text("recipe: test mix\nseed: 0\n")
    return folder


REPLAY = [
    {
        "id": "r0",
        "video": "old/0.mp4",
        "conversations": [
            {"from": "human", "value": "<video>\nWhat happens?"},
            {"from": "gpt", "value": "A dog."},
        ],
    },
    {
        "id": "r1",
        "video": "old/1.mp4",
        "conversations": [
            {"from": "human", "value": "<image>\nWhat happens?"},
            {"from": "gpt", "value": "A cat."},
        ],
    },
    {
        "id": "r2",
        "video": "old/2.mp4",
        "conversations": [
            {"from": "human", "value": "What happens?"},
            {"from": "gpt", "value": "Rain."},
        ],
    },
    {
        "id": "r3",
        "image": "old/3.jpg",
        "conversations": [
            {"from": "human", "value": "<image>\nWhat is it?"},
            {"from": "gpt", "value": "A cup."},
        ],
    },
    {
        "id": "r4",
        "conversations": [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hi."}],
    },
]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """Real small videos as long as the hand-made ones (LiveCC windows end on a frame, so
    their frame times are read)."""

    root = tmp_path_factory.mktemp("videos")
    lengths = {v["video_id"]: v["duration_ms"] for v in TABLES["videos"]}
    for v in VIDEOS:
        source = f"testsrc=size=64x48:rate=24:duration={lengths[v] / 1000}"
        synthetic.ffmpeg("-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", str(root / f"{v}.mp4"))
    return root


@pytest.fixture(scope="module")
def mixture(tmp_path_factory, rows) -> Path:
    return _mixture(tmp_path_factory.mktemp("mix") / "m", rows, REPLAY)


def _load(summary, fmt: str) -> list:
    data = Path(summary.files[0])
    if fmt == "swift":
        return [json.loads(x) for x in data.read_text().splitlines()]
    if fmt == "livecc":
        return cc.livecc_lines(str(data))
    return json.loads(data.read_text())


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_export_meets_its_loaders_contract(mixture, media, rows, tmp_path, fmt: str) -> None:
    out = tmp_path / "out"
    summary = export(str(mixture), fmt, str(out), video_root=str(media))
    records = _load(summary, fmt)
    about = yaml.safe_load((out / "export.yaml").read_text())
    made = about["samples"] + sum(about["added"].values())
    assert made + about["replay"] == len(records)
    assert about["samples"] + sum(v for k, v in about["skipped"].items() if k != "replay") == (
        len(rows)
    )
    for rec in records:
        cc.no_special_tokens(rec)
    samples = records[:made]
    if fmt == "llava":
        spec = yaml.safe_load((out / "mixture_llava.yaml").read_text())
        assert cc.llava_yaml(spec, str(tmp_path)) == records  # from another directory
        assert summary.video_folder == str(media)
        for rec in records:
            cc.llava(rec, summary.video_folder, media_exists=rec in samples)
    if fmt == "llamafactory":
        (info,) = json.loads((out / "dataset_info.json").read_text()).values()
        assert info["file_name"] == Path(summary.files[0]).name
        for rec in records:
            cc.llamafactory(rec, info)
    if fmt == "swift":
        for rec in records:
            cc.swift(rec)
            assert all(m["content"] for m in rec["messages"][:-1])  # swift drops empty ones
        assert "split_records" not in about["added"]  # noise's marker is not empty
        ended = export(
            str(mixture), fmt, str(tmp_path / "end"), video_root=str(media), noise_target="end"
        )  # an empty noise turn mid-dialogue: split
        assert ended.added["split_records"] == sum(
            1
            for r in rows
            if r["task"] == "contrast"
            and next(t for t in r["turns"] if t["kind"] != "frames")["kind"] == "noise"
        )
        for rec in _load(ended, fmt):
            assert all(m["content"] for m in rec["messages"][:-1])
        for rec in samples:
            assert rec["chat_template_kwargs"] == {
                "video_start": rec["clip"][0],
                "video_end": rec["clip"][1],
            }
    if fmt == "livecc":
        # a user turn mid-stream (stop, noise, contrast) or nothing said (silence): no stream form
        assert about["skipped"] == {
            t: sum(r["task"] == t for r in rows) for t in ("contrast", "noise", "silence", "stop")
        }
        for rec in records:
            cc.livecc(rec)
        streams = [r for r in records if "text_stream" in r[-1]["content"][0]]
        assert len(streams) == sum(r["task"] in ("narration", "rev") for r in rows)
    if fmt == "videollm-online":
        assert about["frame_fps"] == 2.0 and about["skipped"] == {"replay": len(REPLAY)}
        for rec in records:
            cc.videollm_online(rec)
    if fmt == "streaming":
        for rec in records:
            times = [t["time"] for t in rec["conversation"]]
            assert times == sorted(times)
            assert {type(t["time"]) for t in rec["conversation"]} == {float}


def _first(rows: list[dict], task: str) -> dict:
    return min(
        (r for r in rows if r["task"] == task), key=lambda r: (r["video_id"], r["clip_start_ms"])
    )


@pytest.mark.parametrize("fmt", ["llava", "llamafactory", "swift", "videollm-online"])
@pytest.mark.parametrize("task", TASKS)
def test_label_layout_golden(rows, media, fmt: str, task: str) -> None:
    row = _first(rows, task)
    ctx = exporters.Context(
        "v.mp4", formats.default_reference(fmt), 1, 20000, formats.noise_marker(fmt, "marker")
    )
    if fmt == "videollm-online":
        conv = FORMATS[fmt].record(row, replace(ctx, frame_fps=2.0))["conversation"]
        text = cc.vlo_labels(conv)
    else:
        rec = FORMATS[fmt].record(row, ctx)
        rec = rec[-1] if isinstance(rec, list) else rec  # swift: the whole dialogue
        turns = rec.get("conversations") or rec["messages"]
        names = {"human": "user", "gpt": "assistant"}
        text = cc.chatml_labels(
            [
                (names.get(t.get("from"), t.get("role")), t.get("value", t.get("content")))
                for t in turns
            ]
        )
    path = GOLDEN / fmt / f"{task}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text + "\n", f"{path} differs"
    learned = [line.split("\t", 1)[1] for line in text.splitlines() if line.startswith("learn")]
    if fmt != "videollm-online" and task in ("silence", "stop"):
        assert learned[-1] == repr("<|im_end|>")  # an empty turn: the template's end token
    if fmt != "videollm-online" and task == "noise":
        assert learned[-1] == repr("<|im_start|><|im_end|>")  # the notes' noise target
    if fmt == "videollm-online" and task == "noise":
        assert learned[-1] == repr("Assistant: <|start_header_id|></s>")
    if fmt == "videollm-online" and task == "silence":
        assert learned == ["[5 frames]"] or all("frames" in x for x in learned)
        assert not any("Assistant" in x for x in learned)


@pytest.mark.parametrize("fmt", ["llava", "llamafactory", "swift", "videollm-online"])
def test_noise_is_not_stop_unless_asked(rows, fmt: str) -> None:
    """Noise learns the template's begin-of-turn token and then the end token; stop learns the
    end token alone; `--noise-target end` gives noise stop's target (the earlier behaviour)."""
    marker = formats.noise_marker(fmt, "marker")
    assert marker == ("<|start_header_id|>" if fmt == "videollm-online" else "<|im_start|>")
    assert formats.noise_marker(fmt, "end") == ""
    with pytest.raises(ExportError, match="noise target"):
        formats.noise_marker(fmt, "im_start")
    for task in ("noise", "contrast", "stop"):
        row = _first(rows, task)
        for target, want in (("marker", marker), ("end", "")):
            ctx = exporters.Context(
                "v.mp4",
                formats.default_reference(fmt),
                1,
                20000,
                formats.noise_marker(fmt, target),
            )
            if fmt == "videollm-online":
                answers = [
                    m["content"]
                    for m in FORMATS[fmt].record(row, replace(ctx, frame_fps=2.0))["conversation"]
                    if m["role"] == "assistant"
                ]
            else:
                rec = FORMATS[fmt].record(row, ctx)
                rec = rec[-1] if isinstance(rec, list) else rec
                turns = rec.get("conversations") or rec["messages"]
                answers = [
                    t.get("value", t.get("content"))
                    for t in turns
                    if t.get("from", t.get("role")) in ("gpt", "assistant")
                ]
            noise_turns = sum(
                t["kind"] == "noise" and t["role"] == "assistant" for t in row["turns"]
            )
            if task == "stop":
                assert marker not in "".join(answers)  # stop never learns the marker
            elif want:
                assert answers.count(want) == noise_turns, answers  # alone, never "Time=.."
            else:
                assert not any(marker in a for a in answers)


def test_qwen2_tokenizer_reads_the_noise_marker_as_one_special_id(rows) -> None:
    """What LLaVA-NeXT/LongVA's (and the qwen2_vl templates') Qwen2 tokenizer makes of a noise
    turn: `<|im_start|>` then `<|im_end|>`, two special ids, never their characters. (The
    tokenizer is a byte-level one with Qwen2's special tokens, built here without a hub.)"""
    import sys

    sys.path.insert(0, str(Path(__file__).with_name("clients")))
    from tiny_qwen2vl import tiny_tokenizer

    tok = tiny_tokenizer()
    rec = FORMATS["llava"].record(
        _first(rows, "noise"),
        exporters.Context("v.mp4", "video", 1, 20000, formats.noise_marker("llava", "marker")),
    )
    answer = rec["conversations"][-1]["value"]
    ids = tok(answer + "<|im_end|>", add_special_tokens=False)["input_ids"]
    assert ids == tok.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    assert len(tok("<im_start>", add_special_tokens=False)["input_ids"]) == len("<im_start>")


def test_times_follow_what_each_trainer_shows(rows) -> None:
    row = next(r for r in rows if r["task"] == "tsg_dialogue" and r["clip_start_ms"] > 0)
    g = row["grounding"]
    whole = exporters.Context("v.mp4", "video", 1, 20000)
    window = exporters.Context("v.mp4", "clip", 1, 20000)
    on_video = FORMATS["llava"].record(row, whole)["conversations"]
    on_window = FORMATS["swift"].record(row, window)[-1]["messages"]
    stamp = f"{g['span_start_ms'] / 1000:.1f}-{g['span_end_ms'] / 1000:.1f} seconds"
    rel = (
        f"{(g['span_start_ms'] - row['clip_start_ms']) / 1000:.1f}-"
        f"{(g['span_end_ms'] - row['clip_start_ms']) / 1000:.1f} seconds"
    )
    assert stamp != rel
    assert stamp in on_video[0]["value"] + on_video[1]["value"]
    assert rel in on_window[0]["content"] + on_window[1]["content"]
    assert stamp not in on_window[0]["content"] + on_window[1]["content"]
    with pytest.raises(ExportError, match="whole video"):
        formats.check_reference("llava", "clip")
    relative = {**row, "grounding": {**g, "timestamp_style": "relative"}}
    with pytest.raises(ExportError, match="--annotations"):
        FORMATS["llava"].record(relative, exporters.Context("v.mp4", "video", 1, None))


def test_videollm_online_turn_times_follow_the_records_time_reference(rows) -> None:
    """The record says `time_reference: clip` by default: its turn times start at the
    window's start (they were on the video's timeline); with `video`, on the video's."""
    row = next(r for r in rows if r["task"] == "narration" and r["clip_start_ms"] > 0)
    start, end = row["clip_start_ms"] / 1000, row["clip_end_ms"] / 1000
    for reference, low, high in (("clip", 0.0, end - start), ("video", start, end)):
        ctx = exporters.Context("v.mp4", reference, 1, frame_fps=2.0)
        record = FORMATS["videollm-online"].record(row, ctx)
        assert record["time_reference"] == reference
        times = [m["time"] for m in record["conversation"]]
        assert times and all(low <= t <= high for t in times), (reference, times)
    assert min(times) == start  # (with `clip`, the first is 0.0)


def test_missing_media_is_an_error_that_lists_it_and_writes_nothing(
    mixture, media, tmp_path, capsys
) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "v1.mp4").write_bytes(b"x")
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=r"2 of 3 videos are missing") as err:
        export(str(mixture), "swift", str(out), video_root=str(partial))
    assert str(partial / "empty.mp4") in str(err.value) and str(partial / "one.mp4") in str(
        err.value
    )
    assert not out.exists()
    code = cli.main(
        [
            "export",
            "--mix",
            str(mixture),
            "--format",
            "llava",
            "--out",
            str(out),
            "--video-root",
            str(partial),
        ]
    )
    assert code == cli.EXIT_USAGE and "missing" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "export",
                "--mix",
                str(mixture),
                "--format",
                "llava",
                "--out",
                str(out),
                "--video-root",
                str(media),
                "--time-reference",
                "clip",
            ]
        )
        == cli.EXIT_USAGE
    )


@pytest.mark.parametrize("fmt", [f for f in list(FORMATS) if f != "livecc"])
def test_datasets_reads_every_json_export(mixture, media, tmp_path, fmt: str) -> None:
    """One type per field: `datasets` infers one Arrow schema for the whole file. (LiveCC's
    file ends with its offsets line, which only their loader reads.)"""
    from datasets import load_dataset

    summary = export(str(mixture), fmt, str(tmp_path / "out"), video_root=str(media))
    ds = load_dataset(
        "json", data_files=summary.files[0], split="train", cache_dir=str(tmp_path / "cache")
    )
    assert ds.num_rows == summary.samples + sum(summary.added.values()) + summary.replay


def test_replay_rows_get_the_visual_token_each_loader_counts() -> None:
    llava = [FORMATS["llava"].replay(r) for r in REPLAY]
    assert [r["conversations"][0]["value"].split("\n")[0] for r in llava] == [
        "<image>",
        "<image>",
        "<image>",
        "<image>",
        "Say hi.",
    ]
    assert llava[3] == REPLAY[3] and llava[4] == REPLAY[4]  # already right: unchanged
    lf = [FORMATS["llamafactory"].replay(r) for r in REPLAY]
    assert [r.get("videos") for r in lf] == [
        ["old/0.mp4"],
        ["old/1.mp4"],
        ["old/2.mp4"],
        None,
        None,
    ]
    assert lf[3]["images"] == ["old/3.jpg"]
    assert [r["conversations"][0]["value"] for r in lf[:3]] == ["<video>\nWhat happens?"] * 3
    sw = FORMATS["swift"].replay(REPLAY[1])
    assert sw["messages"][0] == {"role": "user", "content": "<video>\nWhat happens?"}
    lc = FORMATS["livecc"].replay(REPLAY[0])
    assert lc[0]["content"] == [
        {"type": "video", "video": "old/0.mp4"},
        {"type": "text", "text": "What happens?"},
    ]
    assert FORMATS["videollm-online"].replay(REPLAY[0]) is None


def test_livecc_commentary_needs_the_annotations_word_times(mixture, media, tmp_path) -> None:
    for fmt, where in (("livecc", None), ("swift", str(tmp_path))):
        with pytest.raises(ExportError, match="--livecc-commentary"):
            export(
                str(mixture),
                fmt,
                str(tmp_path / "out"),
                annotations=where,
                video_root=str(media),
                commentary=True,
            )
    assert not (tmp_path / "out").exists()


def _stop_samples(folder: Path, rows: list[dict]) -> Path:
    part = folder / "samples" / "task=stop" / "split=train"
    part.mkdir(parents=True)
    pq.write_table(conform([r for r in rows if r["task"] == "stop"], "samples"), part / "a.parquet")
    return folder


def test_a_mix_killed_while_publishing_is_refused_then_redone(
    rows, media, tmp_path, monkeypatch
) -> None:
    """kill -9 of mix between its moves (simulated: the second move never happens) leaves
    the new mixture beside the old recipe: export refuses the folder by name, and the next
    mix clears what the killed one left and publishes whole."""
    import pipeline.io.publish as publish
    from pipeline.core.recipes import parse_shorthand
    from pipeline.io.commit import RunInProgress
    from pipeline.mix import mix

    samples = _stop_samples(tmp_path / "samples", rows)
    out = tmp_path / "mix"
    mix(str(samples), parse_shorthand("S1 (2)"), str(out))
    moves = []

    def killed(src, dst) -> None:
        if moves:
            raise KeyboardInterrupt  # the process dies here
        moves.append(dst)
        os.rename(src, dst)

    monkeypatch.setattr(publish.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        mix(str(samples), parse_shorthand("S1 (3)"), str(out))
    monkeypatch.undo()
    assert (out / publish.MARKER).exists()
    with pytest.raises(RunInProgress, match=r"half published.*ominous mix"):
        export(str(out), "swift", str(tmp_path / "exp"), video_root=str(media))
    assert not (tmp_path / "exp").exists()
    (tmp_path / ".mix.partial-dead").mkdir()  # a work folder kill -9 left behind
    mix(str(samples), parse_shorthand("S1 (3)"), str(out))
    assert not (out / publish.MARKER).exists()
    assert not list(tmp_path.glob(".mix.partial-*"))  # the killed mix's work folder
    assert yaml.safe_load((out / "mixture.yaml").read_text())["recipe"] == "S1 (3)"
    assert len(pq.read_table(out / "mixture.parquet")) == 3


def test_mix_and_export_take_one_writer_per_folder(mixture, rows, media, tmp_path) -> None:
    """A second mix or export on a folder another one is writing to is refused (exit 2), and
    an export killed half way leaves no temporary file behind the next one."""
    from pipeline import cli
    from pipeline.core.recipes import parse_shorthand
    from pipeline.io.commit import RunInProgress
    from pipeline.io.publish import LOCK, folder_lock, staged_name
    from pipeline.mix import mix

    out = tmp_path / "exp"
    with folder_lock(out, "export"), pytest.raises(RunInProgress, match="another export"):
        export(str(mixture), "swift", str(out), video_root=str(media))
    with folder_lock(tmp_path / "mix", "mix"), pytest.raises(RunInProgress, match="another mix"):
        mix(
            str(_stop_samples(tmp_path / "s", rows)),
            parse_shorthand("S1 (1)"),
            str(tmp_path / "mix"),
        )
    argv = ["export", "--mix", str(mixture), "--format", "swift", "--out", str(out)]
    with folder_lock(out, "export"):
        assert cli.main([*argv, "--video-root", str(media)]) == cli.EXIT_USAGE
    staged_name(out, "swift.json").write_text("half")  # what a killed export left
    export(str(mixture), "swift", str(out), video_root=str(media))
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [LOCK]
    about = yaml.safe_load((out / "export.yaml").read_text())
    assert about["files"] and all((out / f).is_file() for f in about["files"])


def test_export_says_where_media_must_come_from(mixture, media, tmp_path, capsys) -> None:
    """No --annotations nor --video-root, a remote --video-root, folders named like the media
    files, and an --out that is a file: each a usage error that says what to pass."""
    out = tmp_path / "out"
    argv = ["export", "--mix", str(mixture), "--format", "swift", "--out", str(out)]
    assert cli.main(argv) == cli.EXIT_USAGE
    assert "pass --annotations" in capsys.readouterr().err
    for remote in ("s3://bucket/videos", "gs://bucket/videos", "http://host/videos"):
        assert cli.main([*argv, "--video-root", remote]) == cli.EXIT_USAGE
        assert "only a local folder is supported" in capsys.readouterr().err
    folders = tmp_path / "folders"
    for video in media.iterdir():
        (folders / video.name).mkdir(parents=True)  # folders, not files
    assert cli.main([*argv, "--video-root", str(folders)]) == cli.EXIT_USAGE
    assert "videos are missing (or not files)" in capsys.readouterr().err
    assert not out.exists()
    out.write_text("a file")
    assert cli.main([*argv, "--video-root", str(media)]) == cli.EXIT_USAGE
    assert "is a file, not a folder" in capsys.readouterr().err
    assert out.read_text() == "a file"
