"""Task builders on hand-made annotation rows: per-builder pipelines, timing rules, quality."""

from __future__ import annotations

from fractions import Fraction

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from pipeline.core import templates as T
from pipeline.core.quality import leakage_flags, verbatim_overlap
from pipeline.core.tasks import (
    TASKS,
    BuildConfig,
    ClipInfo,
    SentenceInfo,
    VideoInfo,
    build_video,
    pair_sentences,
)
from pipeline.core.timegrid import FrameGrid
from pipeline.stages.build_samples import BuildSamples

CAPTIONS = (
    "A cook chops onions on a board.",
    "A pot of soup boils on the stove.",
    "A man wipes the counter with a towel.",
)


def _prov(run: str = "a1", config: str = "cfg") -> dict:
    return {
        "pipeline_version": "0.1.0",
        "run_id": run,
        "config_hash": config,
        "asr_model": "tiny.en",
        "asr_backend": None,
        "word_timing": None,
        "segmenter": None,
        "caption_model": "Qwen",
        "prompt_id": None,
        "prompt_hash": None,
        "clip_model": None,
        "scene_detector": None,
        "frame_fps": None,
        "seed": None,
    }


def _video(vid: str, duration: int, channel: str | None = None, **kw) -> dict:
    return {
        "video_id": vid,
        "duration_ms": duration,
        "split": "train",
        "channel_id": channel,
        "provenance": _prov(**kw),
    }


def _sentence(vid: str, i: int, a: int, b: int, text: str, unaligned: float = 0.0, **kw) -> dict:
    return {
        "video_id": vid,
        "sentence_id": f"{vid}:s{i}",
        "index": i,
        "start_ms": a,
        "end_ms": b,
        "text": text,
        "interpolated_fraction": unaligned,
        "provenance": _prov(**kw),
    }


def _clip(
    vid: str, i: int, a: int, b: int, boundary: bool, caption: str | None, model: str = "Qwen", **kw
) -> dict:
    return {
        "video_id": vid,
        "clip_id": f"{vid}:c{i}",
        "index": i,
        "start_ms": a,
        "end_ms": b,
        "scene_boundary": boundary,
        "caption": caption,
        "caption_model": model,
        "provenance": _prov(**kw),
    }


TABLES = {
    "videos": [
        _video("v1", 20000),
        _video("empty", 5000),
        _video("one", 8000),
        _video("v1", 20000, run="a0", config="old"),
    ],
    "sentences": [
        _sentence("v1", 0, 500, 2500, "Today we cook soup."),
        _sentence("v1", 1, 6500, 9000, "Chop the onions first."),
        _sentence("v1", 2, 8000, 10000, "Then add them to the pot."),
        _sentence("one", 0, 1000, 3000, "Just one sentence here."),
        _sentence("v1", 0, 100, 900, "A stale sentence.", run="a0", config="old"),
    ],
    "clips": [
        _clip("v1", 0, 0, 6000, False, CAPTIONS[0]),
        _clip("v1", 1, 6000, 12000, True, CAPTIONS[1]),
        _clip("v1", 2, 12000, 20000, True, CAPTIONS[2]),
        _clip("one", 0, 0, 8000, False, CAPTIONS[0]),
    ],
}

EXPECTED = {
    "tsg_dialogue": 8,
    "tsg_caption": 8,
    "caption_to_dialogue": 4,
    "dialogue_to_caption": 4,
    "narration": 1,
    "silence": 4,
    "stop": 4,
    "noise": 7,
    "rev": 4,
    "contrast": 4,
}  # rev: both query positions of each of 2 cuts


def _turns(row: dict, kind: str) -> list[dict]:
    return [t for t in row["turns"] if t["kind"] == kind]


def _check(task: str):
    def check(rows: list[dict]) -> None:
        rows = [r for r in rows if r["task"] == task]
        assert len(rows) == EXPECTED[task], (task, len(rows))
        assert len({r["sample_id"] for r in rows}) == len(rows)
        for r in rows:
            assert r["quality_flags"] == [] and r["split"] == "train"
            assert r["provenance"]["run_id"] == "b1" and r["provenance"]["seed"] == 0
            starts = [t["start_ms"] for t in r["turns"]]
            assert starts == sorted(starts), r["turns"]
            for t in r["turns"]:
                assert r["clip_start_ms"] <= t["start_ms"] <= t["end_ms"] <= r["clip_end_ms"]
                on_grid = (t["start_ms"] - r["clip_start_ms"]) % 500 == 0
                assert on_grid or t["start_ms"] == r["clip_end_ms"], t
            assert "A stale sentence." not in str(r)
        EXTRA[task](rows)

    return check


def _narration(rows: list[dict]) -> None:
    (row,) = rows
    assert [t["start_ms"] for t in _turns(row, "narration")] == [6000, 12000]
    assert [t["text"] for t in _turns(row, "narration")] == list(CAPTIONS[1:])


def _silence(rows: list[dict]) -> None:
    spans = sorted((r["video_id"], r["clip_start_ms"], r["clip_end_ms"]) for r in rows)
    # half a second clear of speech on both sides; the 2 s after the last sentence of v1
    # shrinks to 1.5 s and is dropped; the cuts at 6 s and 12 s (where narration answers)
    # stay outside, edges included
    assert spans == [
        ("empty", 0, 5000),
        ("one", 3500, 8000),
        ("v1", 3000, 5500),
        ("v1", 12500, 20000),
    ]
    narrated = {
        t["start_ms"]
        for r in build_video(_info(TABLES, "v1"), BuildConfig())
        if r["task"] == "narration"
        for t in _turns(r, "narration")
    }
    assert narrated == {6000, 12000}
    for vid, a, b in spans:
        assert not any(a <= cut <= b for cut in narrated if vid == "v1")
    for r in rows:
        (quiet,) = _turns(r, "silence")
        assert quiet["target_override"] == T.SILENCE_TARGET and quiet["learn"]


def _stop(rows: list[dict]) -> None:
    for r in rows:
        (interrupt,) = _turns(r, "interrupt")
        (stop,) = _turns(r, "stop")
        (answer,) = _turns(r, "answer")
        assert interrupt["text"] in T.INTERRUPT_PHRASES
        assert stop["target_override"] == "<|im_end|>" and stop["text"] is None
        assert answer["start_ms"] < interrupt["start_ms"] == stop["start_ms"] <= answer["end_ms"]


def _noise(rows: list[dict]) -> None:
    for r in rows:
        (said,) = _turns(r, "noise")[:1]
        (reply,) = [t for t in _turns(r, "noise") if t["role"] == "assistant"]
        assert reply["target_override"] == "<|im_start|><|im_end|>" and reply["learn"]
        assert reply["start_ms"] >= said["end_ms"]
    texts = {_turns(r, "noise")[0]["text"] for r in rows}
    assert {"Today we cook soup.", "Just one sentence here."} <= texts
    assert texts & set(T.NOISE_PHRASES)


def _rev(rows: list[dict]) -> None:
    for r in rows:
        (query,) = _turns(r, "query")
        (answer,) = _turns(r, "answer")
        evidence = query["evidence"][0]
        assert query["start_ms"] < evidence["start_ms"] <= answer["start_ms"]
        assert query["text"].startswith("Please notify me when a ")
        assert answer["text"] in T.REV_ANSWERS
        assert all(t["target_override"] == T.SILENCE_TARGET for t in _turns(r, "silence"))


def _grounding_spans(rows: list[dict]) -> None:
    by_id = {
        s["sentence_id"]: s for s in TABLES["sentences"] if s["provenance"]["config_hash"] == "cfg"
    }
    by_clip = {c["clip_id"]: c for c in TABLES["clips"]}
    for r in rows:
        g = r["grounding"]
        want = [by_id[g["sentence_id"]]] if g["sentence_id"] else []
        want += [by_clip[g["clip_id"]]] if g["clip_id"] else []
        assert g["span_start_ms"] == min(w["start_ms"] for w in want)
        assert g["span_end_ms"] == max(w["end_ms"] for w in want)
        assert r["clip_start_ms"] <= g["span_start_ms"] <= g["span_end_ms"] <= r["clip_end_ms"]
        assert T.GROUNDING[g["template_id"]]
        assert _turns(r, "answer")[0]["text"].endswith(
            g["asr"] if r["task"] in ("tsg_dialogue", "caption_to_dialogue") else g["caption"]
        )


def _contrast(rows: list[dict]) -> None:
    """One real question answered with the clip's caption, one remark met with the noise
    target, in either order."""
    captions = {c["clip_id"]: c["caption"] for c in TABLES["clips"]}
    orders = set()
    for r in rows:
        spoken = [t for t in r["turns"] if t["kind"] != "frames"]
        kinds = [(t["role"], t["kind"]) for t in spoken]
        assert sorted(kinds) == sorted(
            [
                ("user", "question"),
                ("assistant", "answer"),
                ("user", "noise"),
                ("assistant", "noise"),
            ]
        ), kinds
        (question,) = [t for t in spoken if t["kind"] == "question"]
        (answer,) = [t for t in spoken if t["kind"] == "answer"]
        (reply,) = [t for t in spoken if t["kind"] == "noise" and t["role"] == "assistant"]
        assert question["text"] in T.ANSWER_QUESTIONS
        assert answer["text"] == captions[answer["evidence"][0]["source_id"]]
        assert reply["target_override"] == T.NOISE_TARGET and reply["learn"]
        orders.add(kinds[0][1])
    assert orders == {"question", "noise"}  # both orders occur


EXTRA = {
    "narration": _narration,
    "silence": _silence,
    "stop": _stop,
    "noise": _noise,
    "rev": _rev,
    "contrast": _contrast,
    **dict.fromkeys(
        ("tsg_dialogue", "tsg_caption", "caption_to_dialogue", "dialogue_to_caption"),
        _grounding_spans,
    ),
}


@pytest.mark.parametrize("task", TASKS)
def test_each_builder_in_a_pipeline(task: str) -> None:
    with TestPipeline() as p:
        tables = {name: p | f"Create{name}" >> beam.Create(rows) for name, rows in TABLES.items()}
        rows, filtered, _ = tables | BuildSamples(BuildConfig(), False, "b1", "h")
        assert_that(rows, _check(task))
        assert_that(filtered, lambda f: f == [] or pytest.fail(str(f)), label="none filtered")


def _info(rows: dict, vid: str) -> VideoInfo:
    from pipeline.stages.build_samples import video_info

    parts = {k: [r for r in v if r["video_id"] == vid] for k, v in rows.items()}
    (info,) = video_info((vid, parts), "video", (0.05, 0.05))
    return info


def test_same_seed_same_samples_other_seed_same_counts() -> None:
    video = _info(TABLES, "v1")
    a, b = build_video(video, BuildConfig(seed=1)), build_video(video, BuildConfig(seed=1))
    assert a == b
    c = build_video(video, BuildConfig(seed=2))
    assert len(c) == len(a)
    assert {r["task"] for r in c} == {r["task"] for r in a}
    assert not {r["sample_id"] for r in a} & {r["sample_id"] for r in c}
    assert [r["turns"] for r in a] != [r["turns"] for r in c]


def test_both_rev_variants_come_from_one_build() -> None:
    """One build makes both query positions (recipes pick one: rev-pre, rev-rev); a build of
    one position makes exactly that position's samples of a build of both."""
    video = _info(TABLES, "v1")
    both = [r for r in build_video(video, BuildConfig()) if r["task"] == "rev"]
    assert sorted(r["variant"] for r in both) == ["before", "before", "inline", "inline"]
    for position in ("before", "inline"):
        alone = [
            r
            for r in build_video(video, BuildConfig(rev_query_position=position))
            if r["task"] == "rev"
        ]
        assert alone == [r for r in both if r["variant"] == position]
    for r in both:
        (query,) = _turns(r, "query")
        at_start = query["start_ms"] == r["clip_start_ms"]
        assert at_start if r["variant"] == "before" else True
    assert all(
        r["variant"] is None for r in build_video(video, BuildConfig()) if r["task"] != "rev"
    )


def test_inline_rev_query_comes_before_the_evidence() -> None:
    video = _info(TABLES, "v1")
    for seed in range(5):
        for r in build_video(video, BuildConfig(seed=seed, rev_query_position="inline")):
            if r["task"] == "rev":
                (query,) = _turns(r, "query")
                (answer,) = _turns(r, "answer")
                assert r["clip_start_ms"] <= query["start_ms"] < answer["start_ms"]


def test_sentences_pair_with_the_clip_they_overlap_most() -> None:
    video = VideoInfo(
        "v",
        10000,
        "train",
        sentences=(
            SentenceInfo("v:s0", 1000, 5000, "a"),
            SentenceInfo("v:s1", 3500, 4500, "b"),
            SentenceInfo("v:s2", 9000, 9500, "c"),
        ),
        clips=(ClipInfo("v:c0", 0, 4000, False, "x"), ClipInfo("v:c1", 4000, 8000, True, "y")),
    )
    assert [(s.sentence_id, c.clip_id) for s, c in pair_sentences(video)] == [
        ("v:s0", "v:c0"),
        ("v:s1", "v:c0"),
    ]


def test_quality_flags_filter_and_count() -> None:
    rows = {
        "videos": [_video("q", 20000)],
        "sentences": [
            _sentence("q", 0, 1000, 3000, "Wait 10 seconds before stirring."),
            _sentence("q", 1, 4000, 6000, "Mostly guessed words.", unaligned=0.8),
        ],
        "clips": [
            _clip("q", 0, 0, 500, False, "A blur."),
            _clip("q", 1, 500, 7000, True, "[dry-run] not a caption", model="dry-run"),
        ],
    }
    flags: dict[str, set] = {}
    built = build_video(_info(rows, "q"), BuildConfig())
    for r in built:
        flags.setdefault(r["task"], set()).update(r["quality_flags"])
    assert {"leak_digits", "leak_seconds", "unaligned_words"} <= flags["tsg_dialogue"]
    assert {"clip_too_short", "dry_run_caption"} <= flags["tsg_caption"]
    # every flag of every filtered sample is one rejection (scope sample, item its id)
    want = sorted((r["sample_id"], f) for r in built for f in r["quality_flags"])
    with TestPipeline() as p:
        tables = {n: p | f"C{n}" >> beam.Create(v) for n, v in rows.items()}
        kept, filtered, _ = tables | BuildSamples(BuildConfig(), False, "b", "h")
        assert_that(
            kept,
            lambda rs: all(not r["quality_flags"] for r in rs) or pytest.fail("x"),
            label="kept are clean",
        )
        assert_that(
            filtered | beam.Map(lambda f: (f.scope, f.item, f.reason)),
            lambda got: (
                sorted((i, r) for s, i, r in got if s == "sample") == want or pytest.fail(str(got))
            ),
            label="filtered are rejections",
        )


def test_split_by_channel_keeps_a_channel_together() -> None:
    from pipeline.stages.build_samples import video_info

    rows = [_video(f"v{i}", 1000, channel="chan-7") for i in range(20)]
    splits = {
        next(
            iter(
                video_info(
                    (r["video_id"], {"videos": [r], "sentences": [], "clips": []}),
                    "channel",
                    (0.3, 0.3),
                )
            )
        ).split
        for r in rows
    }
    assert len(splits) == 1


def test_leakage_is_found_anywhere_in_the_string() -> None:
    assert leakage_flags("the pan, at 01:30, is hot") == {"leak_clock", "leak_digits"}
    assert leakage_flags("wait a second") == {"leak_seconds"}
    assert leakage_flags("stir for three secs") == {"leak_seconds"}
    assert leakage_flags("a cook stirs soup") == set()
    assert verbatim_overlap(
        "notify me when the man slices the bread on the board",
        "The man slices the bread on the board.",
    )
    assert not verbatim_overlap("notify me when it rains", "It is raining now.")


def test_timestamp_styles_and_grid() -> None:
    assert T.render_span(1500, 2250, "seconds", 10000) == "1.5-2.2 seconds"
    assert T.render_span(61000, 75000, "mmss", 100000) == "01:01-01:15"
    assert T.render_span(2500, 5000, "relative", 10000) == "25-50 (of 100)"
    with pytest.raises(ValueError, match="timestamp style"):
        T.render_span(0, 1, "hours", 1)
    grid = FrameGrid(Fraction(30000, 1001))
    for t in (0, 1, 33, 34, 5005, 11011, 12345):
        assert grid.floor(t) <= t <= grid.ceil(t)
        assert grid.ceil(t) - grid.floor(t) <= 34
    with pytest.raises(ValueError, match="timestamp style"):
        BuildConfig(timestamp_style="hours")


def test_a_forced_rerun_is_built_once() -> None:
    """--force annotates a video again with the same settings, so its ids repeat: only the
    newest run's rows may reach the samples."""

    def rerun(row: dict) -> dict:
        return {**row, "provenance": {**row["provenance"], "run_id": "zz-forced"}}

    twice = {
        k: v + [rerun(r) for r in v if r["provenance"]["run_id"] == "a1"] for k, v in TABLES.items()
    }
    once = _info(TABLES, "v1")
    again = _info(twice, "v1")
    assert [s.sentence_id for s in again.sentences] == [s.sentence_id for s in once.sentences]
    assert [c.clip_id for c in again.clips] == [c.clip_id for c in once.clips]
    assert again.provenance["run_id"] == "zz-forced"


def test_pair_answers_are_the_target_text_and_the_seed_form_is_flagged() -> None:
    video = _info(TABLES, "v1")
    rows = {
        r["sample_id"]: r
        for r in build_video(video, BuildConfig())
        if r["task"] in ("caption_to_dialogue", "dialogue_to_caption")
    }
    assert rows
    for r in rows.values():
        question, answer = (t["text"] for t in r["turns"] if t["kind"] != "frames")
        g = r["grounding"]
        assert answer == (g["asr"] if r["task"] == "caption_to_dialogue" else g["caption"])
        assert answer not in question and "repeats_prompt" not in r["quality_flags"]
        assert g["template_id"].endswith("-v2")
    seed = [
        r
        for r in build_video(video, BuildConfig(pair_template="seed"))
        if r["task"] in ("caption_to_dialogue", "dialogue_to_caption")
    ]
    assert len(seed) == len(rows)
    for r in seed:
        question, answer = (t["text"] for t in r["turns"] if t["kind"] != "frames")
        assert answer.startswith(question.rstrip("?"))  # the seed's literal one-string form
        assert "repeats_prompt" in r["quality_flags"]
    with pytest.raises(ValueError, match="pair template"):
        BuildConfig(pair_template="other")


def test_repeats_prompt_needs_the_whole_prompt_in_the_answer() -> None:
    from pipeline.core.quality import repeats_prompt

    assert repeats_prompt(
        "Please describe the clip when someone says hi",
        "Please describe the clip when someone says hi: a man waves.",
    )
    assert not repeats_prompt("Please describe the clip when someone says hi", "A man waves.")
    assert not repeats_prompt("", "anything")
