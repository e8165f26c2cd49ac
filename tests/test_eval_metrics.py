"""Scores people can compare with published numbers, and the evaluator's edge cases.

Each metric is checked against its reference implementation on the same pairs: ROUGE-L with
stemming against `rouge-score`, pooled WER against `jiwer`, exact match and F1 against the
SQuAD v1.1 definition, IoU and R@1 against their published definitions. Then each defect
found by trying the evaluator as a user would: lines dropped silently, NaN and infinite times,
second answers, timestamps misread, mm:ss references that could not score 1, greedy
narration matching, curly apostrophes, malformed reports, half-published builds, and one
type per field in the references."""

from __future__ import annotations

import json
import math
import re
import string
import sys
from collections import Counter
from pathlib import Path

import jiwer
import pytest
import test_evaluate
from rouge_score import rouge_scorer
from schema_rows import write_samples
from test_evaluate import _write
from test_tasks import TABLES, _info

from pipeline import cli
from pipeline.core import evaluation as E
from pipeline.core import templates as T
from pipeline.core import text
from pipeline.core.evaluation import Response
from pipeline.core.tasks import BuildConfig, build_video
from pipeline.core.text import words
from pipeline.errors import UsageError
from pipeline.evaluate import EvalError, compare, evaluate, export_eval, read_predictions
from pipeline.io import commit

rows = test_evaluate.rows  # the evaluator tests' fixtures: one video set for both modules
samples = test_evaluate.samples

PAIRS = [
    ("The dogs were running in the park.", "A dog runs in the park"),
    ("She cooks onions, then carrots.", "she cooked the onions and the carrots"),
    ("nothing alike here", "completely different words"),
    ("An apple a day", "the apple of a day"),
    ("Hello, world! Hello again.", "hello world"),
    ("we can't stop now", "we cannot stop now"),
    ("Running quickly beats walking slowly", "walking slowly beats running quickly"),
]


# The SQuAD v1.1 evaluation's definitions, as published with the data set.
def _squad_normalize(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def _squad_f1(prediction: str, truth: str) -> float:
    p, t = _squad_normalize(prediction).split(), _squad_normalize(truth).split()
    common = Counter(p) & Counter(t)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(t)
    return 2 * precision * recall / (precision + recall)


def test_text_metrics_equal_the_reference_implementations() -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    for prediction, reference in PAIRS:
        want = scorer.score(reference, prediction)["rougeL"].fmeasure
        assert E.rouge_l_stemmed(prediction, reference) == pytest.approx(want, abs=1e-12)
        assert E.squad_f1(prediction, reference) == pytest.approx(
            _squad_f1(prediction, reference), abs=1e-12
        )
        assert E.squad_em(prediction, reference) == float(
            _squad_normalize(prediction) == _squad_normalize(reference)
        )
    # stemming matters: "running dogs" and "the dog runs" share stems, not words
    assert E.rouge_l_stemmed("the dogs are running", "the dog runs") > E.rouge_l(
        "the dogs are running", "the dog runs"
    )
    # pooled WER: all edits over all reference words, as jiwer's corpus WER
    refs = [" ".join(words(r)) for _, r in PAIRS]
    hyps = [" ".join(words(p)) for p, _ in PAIRS]
    edits = [text.word_edits(p, r) for p, r in PAIRS]
    pooled = sum(e for e, _ in edits) / sum(n for _, n in edits)
    assert pooled == pytest.approx(jiwer.wer(refs, hyps), abs=1e-12)
    for (p, r), ref, hyp in zip(PAIRS, refs, hyps, strict=True):
        assert text.wer(p, r) == pytest.approx(jiwer.wer(ref, hyp), abs=1e-12)
    means = sum(text.wer(p, r) for p, r in PAIRS) / len(PAIRS)
    assert means != pytest.approx(pooled)  # the two WERs differ: both are reported


def test_iou_and_recall_follow_their_published_definitions(rows) -> None:
    """IoU = |intersection| / |union|; R@1, IoU>=m = share of queries whose one answer
    reaches IoU m; mIoU their mean. The headline of both tsg tasks is R@1 at 0.5, and
    `grounding` pools the text->span samples of both."""
    spans = [r for r in rows if r["grounding"] and "text-to-span" in r["grounding"]["template_id"]]
    predictions, ious = {}, {}
    for k, r in enumerate(spans):
        a, b = E.reference_span(r, E.Frame())
        length = b - a
        shift = (0.0, 0.2, 0.45, 0.8, 1.5)[k % 5] * length
        predictions[r["sample_id"]] = [Response(f"{a + shift:.3f}-{b + shift:.3f} seconds")]
        pa, pb = round(a + shift, 3), round(b + shift, 3)
        inter = max(0.0, min(b, pb) - max(a, pa))
        ious[r["sample_id"]] = inter / (max(b, pb) - min(a, pa))
    result = E.score(spans, predictions)
    for task in E.TSG_TASKS:
        mine = [ious[r["sample_id"]] for r in spans if r["task"] == task]
        got = result["tasks"][task]
        assert got["mean_iou"] == pytest.approx(sum(mine) / len(mine))
        for m in E.IOU_THRESHOLDS:
            assert got[f"recall@{m}"] == pytest.approx(sum(v >= m for v in mine) / len(mine))
        assert got["score"] == got["recall@0.5"]
    every = list(ious.values())
    assert result["grounding"]["score"] == pytest.approx(sum(v >= 0.5 for v in every) / len(every))
    assert result["grounding"]["samples"] == len(spans)
    assert 0 < result["grounding"]["score"] < 1


def test_bad_streaming_lines_and_second_answers_are_reported(rows) -> None:
    streaming = next(r for r in rows if r["task"] == "rev")
    grounding = next(r for r in rows if r["task"] == "tsg_caption")
    families = {r["sample_id"]: r["task_family"] for r in rows}
    lines = [
        {"sample_id": streaming["sample_id"], "text": "now"},  # 1: no time
        json.dumps({"sample_id": streaming["sample_id"], "text": "x", "time": math.nan}),  # 2
        json.dumps({"sample_id": streaming["sample_id"], "text": "x", "time": math.inf}),  # 3
        {"sample_id": grounding["sample_id"], "text": "first"},  # 4: scored
        {"sample_id": grounding["sample_id"], "text": "second"},  # 5: reported
        {"sample_id": streaming["sample_id"], "text": "ok", "time": 1.5},  # 6: kept
    ]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        got, problems = read_predictions(_write(Path(tmp) / "p.jsonl", lines), families)
    assert [p.split(":")[0] for p in problems] == ["line 1", "line 2", "line 3", "line 5"]
    assert "needs a time" in problems[0]
    assert "finite" in problems[1] and "finite" in problems[2]
    assert "second answer" in problems[3] and "line 4" in problems[3]
    assert got[grounding["sample_id"]] == [Response("first")]
    assert got[streaming["sample_id"]] == [Response("ok", 1.5)]


def test_nan_times_no_longer_pass_stop_and_the_report_is_standard_json(
    samples, rows, tmp_path
) -> None:
    stop = [r for r in rows if r["task"] == "stop"]
    lines = [
        json.dumps({"sample_id": r["sample_id"], "text": "still talking", "time": math.nan})
        for r in stop
    ]
    lines += [
        {"sample_id": r["sample_id"], "text": "still talking", "time": 1e9} for r in stop
    ]  # a time past the window: talking after the stop
    summary = evaluate(str(samples), _write(tmp_path / "p.jsonl", lines), str(tmp_path / "r"))
    assert summary.tasks["stop"]["score"] == 0.0
    assert sum("finite" in p for p in summary.problems) == len(stop)

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in eval.json")

    json.loads((tmp_path / "r" / "eval.json").read_text(), parse_constant=refuse)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("0:00:01 - 0:00:05", (1.0, 5.0)),
        ("00:00:05-00:00:09", (5.0, 9.0)),
        ("01:05-01:10", (65.0, 70.0)),
        ("5.5s - 7.5s", (5.5, 7.5)),
        ("5.5 \u2013 7.5 seconds", (5.5, 7.5)),
        ("It happens from 5.5 to 7.5 seconds.", (5.5, 7.5)),
        ("between 3 and 4 sec", (3.0, 4.0)),
        ("9.0-5.0 sec", (5.0, 9.0)),
        ("25-50 (of 100)", (5.0, 10.0)),
        ("at 00:05-00:09, then 00:10-00:12", (5.0, 9.0)),
        ("2-3 people talk", None),
    ],
)
def test_spans_in_the_forms_people_write(text: str, span) -> None:
    assert E.parse_span(text, 20) == span


def test_answer_text_drops_any_leading_timestamp() -> None:
    assert E.answer_text("5.0-9.0 sec: hello there") == "hello there"
    assert E.answer_text("5.0-9.0 seconds: hello there") == "hello there"
    assert E.answer_text("00:05-00:09: hello") == "hello"
    assert E.answer_text("0:00:05 - 0:00:09 : hello") == "hello"
    assert E.answer_text("hello 5-9 sec: there") == "hello 5-9 sec: there"
    assert E.answer_text("25-50 (of 100): hi") == "hi"


def test_mmss_references_score_one_and_short_sentences_keep_a_span(rows) -> None:
    config = BuildConfig(timestamp_style="mmss")
    mmss = [
        r
        for v in ("v1", "one")
        for r in build_video(_info(TABLES, v), config)
        if r["task"] in E.TSG_TASKS
    ]
    result = E.score(
        mmss,
        {
            r["sample_id"]: [Response(t["text"]) for t in r["turns"] if t["role"] == "assistant"]
            for r in mmss
        },
    )
    for task in E.TSG_TASKS:
        assert result["tasks"][task]["mean_iou"] == 1.0
        assert result["tasks"][task]["score"] == 1.0
    assert T.render_span(5200, 5800, "mmss", 60000) == "00:05-00:06"  # never zero-length
    assert T.render_span(5000, 6000, "mmss", 60000) == "00:05-00:06"


def test_narration_is_matched_optimally_not_greedily(rows) -> None:
    row = next(r for r in rows if r["task"] == "narration")
    start = row["clip_start_ms"]
    cuts = [5000, 7000]
    turns = [t for t in row["turns"] if t["kind"] != "narration"] + [
        {
            **next(t for t in row["turns"] if t["kind"] == "narration"),
            "start_ms": start + c,
            "end_ms": start + c,
        }
        for c in cuts
    ]
    row = {**row, "turns": turns}
    acc = E.TaskScore("narration")
    E.score_streaming(row, [Response("a", 3.5), Response("b", 6.0)], acc)
    got = acc.summary()
    assert got["coverage"] == 1.0 and got["extra_responses"] == 0.0
    assert got["timing_error"] == pytest.approx((1.5 + 1.0) / 2)
    assert E.match_cuts([5.0, 7.0], [3.5, 6.0], 2.0) == [(0, 0), (1, 1)]
    assert E.match_cuts([5.0], [9.0], 2.0) == []


def test_curly_apostrophes_are_the_same_word() -> None:
    assert E.token_f1("we don't stop", "we don\u2019t stop") == 1.0
    assert E.squad_f1("we don't stop", "we don\u2019t stop") == 1.0
    assert text.wer("we don\u2019t stop", "we don't stop") == 0.0


def test_a_noise_marker_or_end_token_alone_is_silence(rows) -> None:
    noise = [r for r in rows if r["task"] == "noise"]
    for reply in (
        "<|im_start|>",
        "<|im_start|><|im_end|>",
        "<|im_end|>",
        " </s> ",
        "<|start_header_id|><|eot_id|>",
    ):
        late = {r["sample_id"]: [Response(reply, 1e6)] for r in noise}
        assert E.score(noise, late)["tasks"]["noise"]["score"] == 1.0, reply
    talking = {r["sample_id"]: [Response("<|im_start|>Sure!", 1e6)] for r in noise}
    assert E.score(noise, talking)["tasks"]["noise"]["score"] == 0.0


def test_compare_names_a_malformed_report(tmp_path, capsys) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for content in (
        '{"name": "x"}',
        "[1, 2]",
        '{"name": "x", "overall": "high", "tasks": {}}',
        '{"name": "x", "overall": 0.5, "tasks": {"rev": {"score": null}}}',
    ):
        (bad / "eval.json").write_text(content)
        with pytest.raises(EvalError, match=re.escape(str(bad / "eval.json"))):
            compare([str(bad)], str(tmp_path / "out"))
    assert cli.main(["eval", "compare", str(bad), "--out", str(tmp_path / "o")]) == cli.EXIT_USAGE
    assert str(bad / "eval.json") in capsys.readouterr().err


def test_half_published_builds_are_refused(rows, tmp_path) -> None:
    half = write_samples(tmp_path / "half", rows)
    stage = commit.build_stage(str(half), "build-killed")
    Path(stage).mkdir(parents=True)
    commit.mark_complete(stage)
    with pytest.raises(UsageError, match="not fully published"):
        evaluate(str(half), _write(tmp_path / "p.jsonl", []), str(tmp_path / "r"))
    with pytest.raises(UsageError, match="not fully published"):
        export_eval(str(half), str(tmp_path / "e"), video_root=str(tmp_path))
    assert not (tmp_path / "r").exists() and not (tmp_path / "e").exists()


def test_references_have_one_type_per_field_and_datasets_reads_them(
    samples, rows, tmp_path
) -> None:
    from datasets import load_dataset

    media = tmp_path / "media"
    media.mkdir()
    for v in ("v1", "one", "empty"):
        (media / f"{v}.mp4").write_bytes(b"x")
    export_eval(str(samples), str(tmp_path / "eval"), video_root=str(media))
    refs = [json.loads(x) for x in (tmp_path / "eval" / "eval_references.jsonl").open()]
    types: dict[str, set[str]] = {}
    for ref in refs:
        assert isinstance(ref["target"], list)
        for item in ref["target"]:
            assert set(item) == {"time", "kind", "text", "span"}
        for k, v in ref.items():
            types.setdefault(k, set()).add(type(v).__name__)
    assert all(len(t) == 1 for k, t in types.items()), types
    for name in ("eval_references.jsonl", "eval_prompts.jsonl"):
        ds = load_dataset(
            "json",
            data_files=str(tmp_path / "eval" / name),
            split="train",
            cache_dir=str(tmp_path / "cache"),
        )
        assert ds.num_rows == len(rows)


def test_an_existing_file_as_out_is_a_usage_error(samples, tmp_path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine")
    with pytest.raises(UsageError, match="is a file"):
        evaluate(str(samples), _write(tmp_path / "p.jsonl", []), str(taken))
    with pytest.raises(UsageError, match="is a file"):
        compare([], str(taken))
    assert taken.read_text() == "mine"


def test_times_on_the_whole_video_and_duration_buckets(rows, tmp_path) -> None:
    """`--time-reference video`: prompts and answers on the video's timeline score the same
    as on the window's; a span guessed at random scores far less against a long video than
    inside a short window. Buckets split the samples by their video's duration."""
    from pipeline.evaluate import prompt_and_reference

    durations = {"v1": 20_000, "one": 300_000, "empty": 5_000}
    perfect = {
        r["sample_id"]: [Response(t["text"], None)]
        for r in rows
        if r["task_family"] == "grounding"
        for t in r["turns"]
        if t["role"] == "assistant"
    }
    on_video = {}
    for r in rows:
        if r["task_family"] != "grounding":
            continue
        _, ref = prompt_and_reference(r, "v.mp4", "video", durations[r["video_id"]])
        (target,) = ref["target"]
        on_video[r["sample_id"]] = [Response(target["text"])]
        if target["span"]:
            g = r["grounding"]
            assert target["span"] == [g["span_start_ms"] / 1000, g["span_end_ms"] / 1000]
    grounding_rows = [r for r in rows if r["task_family"] == "grounding"]
    clip = E.score(grounding_rows, perfect)
    video = E.score(grounding_rows, on_video, "video", durations)
    assert clip["grounding"]["score"] == video["grounding"]["score"] == 1.0
    # one span guessed for every sample, read on each timeline: inside 8 s windows that
    # start mid-video it lands near the truth far more often than on the whole video
    windowed = [
        r
        for v in ("v1", "one")
        for r in build_video(_info(TABLES, v), BuildConfig(window_ms=8000))
        if r["task"] in E.TSG_TASKS
    ]
    guess = {r["sample_id"]: [Response("2.0-5.0 seconds")] for r in windowed}
    inside = E.score(windowed, guess)["grounding"]["mean_iou"]
    whole = E.score(windowed, guess, "video", durations)["grounding"]["mean_iou"]
    assert whole < inside
    buckets = E.parse_buckets("short:0-10,medium:10-60,long:60-inf")
    scored = E.score(rows, {}, "clip", durations, buckets)
    assert {k: v["samples"] for k, v in scored["buckets"].items() if v} == {
        name: sum(1 for r in rows if E.bucket_of(durations[r["video_id"]] / 1000, buckets) == name)
        for name in ("short", "medium", "long")
    }
    assert scored["outside_buckets"] == 0
    mme = E.score(rows, {}, "clip", durations)  # Video-MME's: 20 s short, 300 s medium
    assert mme["buckets"]["long"] is None
    assert mme["outside_buckets"] == 0
    with pytest.raises(ValueError, match="NAME:LOW-HIGH"):
        E.parse_buckets("short:10-5")
    relative = [
        {**r, "grounding": {**r["grounding"], "timestamp_style": "relative"}}
        for r in grounding_rows
    ]
    with pytest.raises(ValueError, match="duration is unknown"):
        E.score(relative, {}, "video")


def test_the_wer_without_jiwer_is_the_same(monkeypatch) -> None:
    """An lmms-eval task folder scores with a copy of our scorer in their venv, which has no
    jiwer: the plain edit distance there gives jiwer's numbers."""
    with_jiwer = [text.word_edits(p, r) for p, r in PAIRS]
    monkeypatch.setitem(sys.modules, "jiwer", None)  # import jiwer -> ImportError
    assert [text.word_edits(p, r) for p, r in PAIRS] == with_jiwer


def test_the_scorer_copy_imports_alone(tmp_path) -> None:
    """What `export --format lmms-eval` copies (pipeline.lmms_tasks.scorer_files) imports in
    a bare Python: no ominous installed, nothing outside the standard library."""
    import shutil
    import subprocess

    from pipeline.lmms_tasks import scorer_files

    package = Path(__file__).resolve().parents[1] / "pipeline"
    for name in scorer_files():
        (tmp_path / "pipeline" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package / name, tmp_path / "pipeline" / name)
    code = "from pipeline.core import evaluation, text; print(text.wer('a b c', 'a x c'))"
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(1 / 3)
