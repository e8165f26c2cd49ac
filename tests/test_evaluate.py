"""The evaluator on synthetic predictions: the references themselves score perfectly, spans
shifted by known amounts give the expected IoU, an always-silent model scores 1 on silence and
0 on rev and narration, and malformed prediction lines are reported with their numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image
from schema_rows import conform
from test_tasks import TABLES, _info

from pipeline import cli
from pipeline.core.evaluation import Response, iou, parse_span, score
from pipeline.core.tasks import BuildConfig, build_video
from pipeline.evaluate import compare, evaluate, prompt_and_reference


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    out = []
    for v in ("v1", "one", "empty"):
        out += [{**r, "split": "test"} for r in build_video(_info(TABLES, v), BuildConfig())]
    return out


@pytest.fixture(scope="module")
def samples(tmp_path_factory, rows) -> Path:
    root = tmp_path_factory.mktemp("samples")
    for task in {r["task"] for r in rows}:
        part = root / "samples" / f"task={task}" / "split=test"
        part.mkdir(parents=True)
        pq.write_table(
            conform([r for r in rows if r["task"] == task], "samples"), part / "a.parquet"
        )
    return root


def _rel(row: dict, ms: int) -> float:
    return (ms - row["clip_start_ms"]) / 1000


def references(rows: list[dict]) -> list[dict]:
    """What a perfect model says: each answer, at its time for streaming samples."""
    lines = []
    for r in rows:
        for t in r["turns"]:
            if t["role"] != "assistant" or t["target_override"] is not None:
                continue
            line = {"sample_id": r["sample_id"], "text": t["text"]}
            if r["task_family"] == "streaming":
                line["time"] = _rel(r, t["start_ms"])
            lines.append(line)
    return lines


def _write(path: Path, lines: list) -> str:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return str(path)


def test_the_references_score_perfectly(samples, rows, tmp_path) -> None:
    summary = evaluate(
        str(samples), _write(tmp_path / "p.jsonl", references(rows)), str(tmp_path / "run")
    )
    assert summary.problems == ()
    assert set(summary.tasks) == {r["task"] for r in rows}
    for task, s in summary.tasks.items():
        assert s["score"] == pytest.approx(1.0), (task, s)
    assert summary.overall == pytest.approx(1.0)
    assert summary.tasks["tsg_dialogue"]["recall@0.7"] == 1.0
    assert summary.tasks["caption_to_dialogue"]["wer"] == 0.0


def test_shifted_spans_give_the_expected_iou(rows) -> None:
    spans = [r for r in rows if r["grounding"] and "text-to-span" in r["grounding"]["template_id"]]
    assert spans
    expected, predictions = [], {}
    for k, r in enumerate(spans):
        g = r["grounding"]
        a, b = _rel(r, g["span_start_ms"]), _rel(r, g["span_end_ms"])
        shift = (k % 3) * 0.5
        predictions[r["sample_id"]] = [Response(f"{a + shift:.1f}-{b + shift:.1f} seconds")]
        expected.append(max(0.0, (b - a) - shift) / ((b - a) + shift))
    result = score(spans, predictions)
    got = [result["tasks"][t]["mean_iou"] for t in ("tsg_caption", "tsg_dialogue")]
    by_task = {
        t: [e for e, r in zip(expected, spans, strict=True) if r["task"] == t]
        for t in ("tsg_caption", "tsg_dialogue")
    }
    assert got == pytest.approx([sum(v) / len(v) for v in by_task.values()], abs=1e-6)
    assert parse_span("from 00:05-00:09 on", 60) == (5, 9)
    assert parse_span("25-50 (of 100)", 20) == (5, 10)
    assert parse_span("nothing here", 20) is None
    assert iou((0, 2), (1, 3)) == pytest.approx(1 / 3)


def test_an_always_silent_model(rows) -> None:
    result = score(rows, {})["tasks"]
    assert result["silence"]["score"] == 1.0
    assert result["stop"]["score"] == 1.0 and result["noise"]["score"] == 1.0
    assert result["rev"]["score"] == 0.0 and result["rev"]["missed"] == 1.0
    assert result["narration"]["score"] == 0.0
    assert result["contrast"]["question_answered"] == 0.0
    assert result["contrast"]["remark_ignored"] == 1.0
    assert result["tsg_dialogue"]["score"] == 0.0


def test_a_chatty_model_fails_silence_noise_and_alerts_early(rows) -> None:
    chatty = {
        r["sample_id"]: [Response("Something happens.", t / 2) for t in range(60)]
        for r in rows
        if r["task_family"] == "streaming"
    }
    result = score(rows, chatty)["tasks"]
    assert result["silence"]["score"] == 0.0 and result["noise"]["score"] == 0.0
    assert result["stop"]["score"] == 0.0
    assert result["rev"]["early"] == 1.0  # it spoke right after the query
    assert result["narration"]["coverage"] == 1.0 and result["narration"]["extra_responses"] > 0


def test_malformed_prediction_lines_are_reported_by_number(samples, rows, tmp_path, capsys) -> None:
    good = references(rows)
    lines = [
        *good[:2],
        "{not json",
        {"text": "no id"},
        {"sample_id": "nope", "text": "x"},
        {"sample_id": good[0]["sample_id"], "text": 5},
        {"sample_id": good[0]["sample_id"], "text": "x", "time": "soon"},
        *good[2:],
    ]
    path = _write(tmp_path / "p.jsonl", lines)
    code = cli.main(
        [
            "eval",
            "--samples",
            str(samples),
            "--predictions",
            path,
            "--out",
            str(tmp_path / "run"),
            "--name",
            "mine",
        ]
    )
    assert code == cli.EXIT_OK
    err = capsys.readouterr().err
    for number, what in (
        (3, "not JSON"),
        (4, "needs a string sample_id"),
        (5, "sample 'nope' is not in the split"),
        (6, "text must be"),
        (7, "time must be"),
    ):
        assert f"line {number}: {what}" in err
    report = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert report["overall"] == pytest.approx(1.0) and len(report["problems"]) == 5


def test_eval_export_compare_and_the_cli(samples, rows, tmp_path, capsys) -> None:
    media = tmp_path / "media"
    media.mkdir()
    for v in ("v1", "one", "empty"):
        (media / f"{v}.mp4").write_bytes(b"x")
    assert (
        cli.main(
            [
                "export",
                "--format",
                "eval",
                "--samples",
                str(samples),
                "--out",
                str(tmp_path / "eval"),
                "--video-root",
                str(media),
            ]
        )
        == cli.EXIT_OK
    )
    prompts = [json.loads(x) for x in (tmp_path / "eval" / "eval_prompts.jsonl").open()]
    refs = [json.loads(x) for x in (tmp_path / "eval" / "eval_references.jsonl").open()]
    assert len(prompts) == len(refs) == len(rows)
    for p in prompts:  # no answer in any prompt
        assert "target" not in p and all(m["role"] == "user" for m in p.get("messages", []))
    by_id = {r["sample_id"]: r for r in rows}
    for p, ref in zip(prompts, refs, strict=True):
        row = by_id[p["sample_id"]]
        assert (p, ref) == prompt_and_reference(row, str(media / f"{row['video_id']}.mp4"))
    silent = evaluate(
        str(samples), _write(tmp_path / "none.jsonl", []), str(tmp_path / "a"), name="silent"
    )
    perfect = evaluate(
        str(samples),
        _write(tmp_path / "all.jsonl", references(rows)),
        str(tmp_path / "b"),
        name="references",
    )
    assert perfect.overall > silent.overall
    png = compare([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "cmp"))
    table = (tmp_path / "cmp" / "compare.md").read_text().splitlines()
    assert table[0].startswith("| run | caption_to_dialogue")
    assert table[0].endswith("| overall | grounding |")
    assert table[2].startswith("| silent |") and table[3].endswith("| 100.0 | 100.0 |")
    assert np.asarray(Image.open(png).convert("L")).std() > 5
    assert (
        cli.main(["eval", "compare", str(tmp_path / "a"), "--out", str(tmp_path / "c")])
        == cli.EXIT_OK
    )
    assert cli.main(["eval", "--samples", str(samples)]) == cli.EXIT_USAGE
    assert cli.main(["export", "--format", "eval", "--out", str(tmp_path / "x")]) == cli.EXIT_USAGE
