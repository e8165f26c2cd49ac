"""Curation on synthetic media with known faults: German speech under the English ASR,
burned-in subtitles, a still picture, music, a repetition, a re-upload; each is removed for
its reason, and the clean video keeps every sample it makes. Plus the signals and the policy
on hand-made rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline import cli, synthetic
from pipeline.annotate import run
from pipeline.build import run as build
from pipeline.core import signals
from pipeline.core.curation import Policy, PolicyError, judge
from pipeline.core.near_duplicates import Fingerprint, duplicate_groups
from pipeline.core.text import words
from pipeline.io.parquet import read_table
from pipeline.io.policy import load_policy
from pipeline.io.query import connect
from pipeline.report import write_report
from pipeline.synthetic import fingerprints


def test_repetition_and_hallucination_signals() -> None:
    nasa = "So, next mission we mail, NASA, NASA, NASA, NASA, NASA."
    assert signals.longest_repeat(words(nasa)) == 5
    assert signals.longest_repeat(words("we add the garlic and stir it")) == 1
    assert signals.longest_repeat(words("a b a b a b c")) == 3  # a 2-gram, 3 times
    assert (
        signals.compression_ratio("yes " * 40)
        > 2.4
        > signals.compression_ratio(
            "Today we are making a simple tomato soup with onions and garlic."
        )
    )
    for text in (
        "you Thank you.",
        "Thank you so much for watching.",
        " you",
        "Thanks for watching!",
    ):
        assert signals.is_hallucination(text), text
    assert not signals.is_hallucination("Thank you for the onions, now stir them.")
    assert signals.repeated_ngram_fraction(["a", "b", "c", "a", "b", "c", "a", "b", "c"]) == 1.0


def test_frame_hash_survives_rescaling_and_tells_pictures_apart() -> None:
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 255, (60, 80)).astype(np.float32)
    smooth = np.kron(picture, np.ones((4, 4)))  # 240 x 320
    small = smooth[::2, ::2]
    other = np.kron(rng.integers(0, 255, (60, 80)).astype(np.float32), np.ones((4, 4)))
    assert signals.hamming(signals.dhash(smooth), signals.dhash(small)) <= 4
    assert signals.hamming(signals.dhash(smooth), signals.dhash(other)) > 16
    soup = words("today we are making a simple tomato soup first chop the onion")
    near = words("today we are making a simple tomato soup first chop the onions")
    far = words("our young plants need water every morning by the garden wall")
    assert signals.hamming(signals.simhash(soup), signals.simhash(near)) < signals.hamming(
        signals.simhash(soup), signals.simhash(far)
    )
    assert signals.text_overlap(
        "a simple tomato soup", ["Today we make a simple tomato soup"]
    ) == pytest.approx(3 / 5)  # today, make, simple, tomato, soup
    assert signals.text_overlap("anything", ["a b c"]) is None  # no word of 4+ letters said


def _rows(**video):
    base = {
        "video_id": "v",
        "height": 720,
        "text_language": "en",
        "text_language_score": 1.0,
        "word_score_mean": 0.9,
        "motion_mean": 0.05,
        "face_area_mean": 0.0,
    }
    sentences = [
        {
            "sentence_id": "v:s0",
            "start_ms": 0,
            "end_ms": 2000,
            "hallucination": False,
            "longest_repeat": 1,
            "compression_ratio": 1.1,
            "word_score_min": 0.7,
        },
        {
            "sentence_id": "v:s1",
            "start_ms": 3000,
            "end_ms": 4000,
            "hallucination": True,
            "longest_repeat": 1,
            "compression_ratio": 1.0,
            "word_score_min": 0.3,
        },
    ]
    clips = [{"clip_id": "v:c0", "clip_score": None, "subtitle_overlap": 0.0}]
    return {**base, **video}, sentences, clips


def test_the_default_policy_removes_what_each_signal_spoils() -> None:
    policy = load_policy(None)
    clean = judge(*_rows(), policy)
    assert clean.keep and clean.drop_sentences == {"v:s1"} and not clean.blocked_tasks
    assert [(r.scope, r.reason) for r in clean.rejections] == [("sentence", "hallucination")]
    german = judge(*_rows(text_language="de", text_language_score=0.99), policy)
    assert german.drop_sentences == {"v:s0", "v:s1"} and german.blocked_tasks == {
        "silence": "language_de"
    }
    assert german.speech_spans == ((0, 2000), (3000, 4000))  # silence keeps away from them
    unsure = judge(*_rows(text_language="de", text_language_score=0.5), policy)
    assert unsure.drop_sentences == {"v:s1"}  # the identifier was not sure: kept
    still = judge(*_rows(motion_mean=0.0), policy)
    assert set(still.blocked_tasks) == set(policy.still_poisons) and still.keep
    one_picture = judge(*_rows(motion_mean=0.0, frame_hashes=[5, 5, 7]), policy)
    assert set(one_picture.blocked_tasks) == set(policy.still_poisons)
    # a multilingual ASR's spoken language wins over the transcript's text language
    heard = judge(*_rows(spoken_language="de", spoken_language_score=0.95), policy)
    assert heard.blocked_tasks == {"silence": "language_de"}
    assert not judge(
        *_rows(text_language="de", spoken_language="en", spoken_language_score=0.99), policy
    ).blocked_tasks
    missing = judge(*_rows(motion_mean=None, word_score_mean=None), policy)
    assert not missing.blocked_tasks  # not measured: nothing removed
    assert not judge(*_rows(), policy, duplicate_of="w").keep
    assert judge(*_rows(), Policy()).rejections == ()  # --policy none


def test_a_slideshow_keeps_its_picture_tasks(tmp_path) -> None:
    """Several different still pictures: every clip is still, but the picture changes
    across the video, so "when does the video show X" has an answer. Hashes of real frames
    of ffmpeg's test cards."""

    import numpy as np
    from PIL import Image

    from pipeline.core.signals import dhash, picture_change_bits

    hashes = []
    for card in ("smptebars", "rgbtestsrc", "pal75bars"):
        png = tmp_path / f"{card}.png"
        card_source = f"{card}=size=320x240:rate=1"
        synthetic.ffmpeg("-f", "lavfi", "-i", card_source, "-frames:v", "1", str(png))
        gray = np.asarray(Image.open(png).convert("RGB")).astype("float32").mean(axis=2)
        hashes += [dhash(gray)] * 2  # two keyframes of each slide
    policy = load_policy(None)
    assert picture_change_bits(hashes) > policy.still_max_change_bits
    slides = judge(*_rows(motion_mean=0.0, frame_hashes=hashes), policy)
    assert not slides.blocked_tasks and slides.keep
    assert picture_change_bits(hashes[:2]) == 0 and picture_change_bits(None) is None


def test_a_window_on_one_held_slide_loses_its_picture_samples() -> None:
    """A slideshow whose first slide is held for three minutes: the video keeps its picture tasks
    (its picture changes), but a sample whose window spans several clips of one slide is
    removed, a rejections row with the window's motion against the threshold; a window that
    reaches the next slide is kept, as is a window of one clip (one caption, one answer), and
    without a policy nothing is removed."""
    from pipeline.core.tasks import BuildConfig, ClipInfo, VideoInfo
    from pipeline.stages.build_samples import _Build

    held, other = 0, (1 << 40) - 1  # dHashes 40 bits apart
    clips = tuple(
        ClipInfo(f"c{i}", i * 6000, (i + 1) * 6000, i == 30, f"a caption {i}", "m", 0.0, h)
        for i, h in enumerate([held] * 30 + [other] * 10)
    )
    video = VideoInfo("slides", 240_000, "train", clips=clips)
    policy = load_policy(None)
    assert not judge({"video_id": "slides", "motion_mean": 0.0,
                      "frame_hashes": [held, other]}, [], [], policy).blocked_tasks  # fmt: skip
    out = list(_Build(BuildConfig(), True, "r", "h", policy).process(video))
    rejected = [o.value for o in out if hasattr(o, "tag")]
    built = [o for o in out if not hasattr(o, "tag")]
    assert rejected and all(r.reason == "still_picture" and r.scope == "sample" for r in rejected)
    assert all(r.value == 0.0 and r.threshold == policy.still_max_motion for r in rejected)

    def slides(row: dict) -> list[int]:
        """The slide of each clip the sample's window overlaps."""
        return [
            c.frame_hash
            for c in clips
            if c.start_ms < row["clip_end_ms"] and c.end_ms > row["clip_start_ms"]
        ]

    everything = list(_Build(BuildConfig(), True, "r", "h", Policy()).process(video))
    gone = {r.item for r in rejected}
    for row in everything:
        if row["task"] not in policy.still_poisons:
            continue
        shown = slides(row)
        assert (row["sample_id"] in gone) == (len(shown) > 1 and len(set(shown)) == 1), shown
    assert {r["sample_id"] for r in built} == {r["sample_id"] for r in everything} - gone
    assert not any(hasattr(o, "tag") for o in everything)


def test_duplicates_keep_the_best_copy() -> None:
    policy = load_policy(None)
    a = Fingerprint("a", 60_000, 720, (1, 2, 3), 0b1111)
    b = Fingerprint("b", 60_500, 240, (1, 2, 3 | 1 << 40), 0b0111)
    c = Fingerprint("c", 60_000, 720, (1, 2, 3), -1)  # same picture, other speech
    d = Fingerprint("d", 90_000, 720, (1, 2, 3), 0b1111)  # another length
    assert duplicate_groups([a, b, c, d], policy) == {"b": "a"}
    assert duplicate_groups([a, b], Policy()) == {}


def test_lsh_finds_the_groups_the_exhaustive_check_finds() -> None:
    """The candidates LSH proposes, checked by the same rule, give the same groups as
    checking every pair of similar length (the quadratic reference) on re-uploads; and a
    plain picture shared by many videos proposes no pairs of its own."""
    from pipeline.core.near_duplicates import candidate_pairs

    policy = load_policy(None)
    videos = fingerprints(3000)
    found = duplicate_groups(videos, policy)
    assert len(found) >= 250  # the re-uploads (a few fall outside the length limit)
    assert found == duplicate_groups(videos, policy, exhaustive=True)
    black = [Fingerprint(f"b{k}", 60_000, 720, (0,) * 10, None) for k in range(1200)]
    assert len(candidate_pairs(black, policy)) == 0
    unmeasured = [Fingerprint(f"u{k}", 60_000, 720, (), None) for k in range(3)]
    assert duplicate_groups(unmeasured, policy) == {}  # no keyframe hashes (older OUTs)


def test_each_rule_returns_its_decision_with_value_and_threshold() -> None:
    """Rules are data: each reads its signal and its threshold and says why, with both; a
    signal not measured, or a rule switched off, keeps the item."""
    from pipeline.core.rules import RULES, SCOPES, Decision, first_decision

    policy = load_policy(None)
    assert {r.scope for r in RULES} <= set(SCOPES)
    assert all(getattr(policy, r.poisons) for r in RULES if r.scope == "task")
    sentence = {"longest_repeat": 9, "compression_ratio": 1.0, "word_score_min": 0.9}
    assert first_decision("sentence", sentence, policy) == Decision(
        "repetition", 9.0, float(policy.max_longest_repeat)
    )
    assert first_decision("sentence", {"longest_repeat": None}, policy) is None  # unmeasured
    assert first_decision("sentence", sentence, Policy()) is None  # the rule is off
    assert first_decision("clip", {"clip_score": 0.01}, policy) is None  # off by default
    assert first_decision("clip", {"clip_score": 0.01}, Policy(min_clip_score=0.2)) == Decision(
        "low_clip_score", 0.01, 0.2
    )
    video = {"spoken_language": "de", "spoken_language_score": 0.97, "text_language": "en"}
    assert first_decision("speech", video, policy) == Decision(
        "language_de", 0.97, policy.min_language_score
    )
    assert first_decision("video", {"duplicate_of": "k"}, policy) == Decision(
        "duplicate_of", detail="k"
    )


def test_policy_files_are_checked(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("video: {still_max_motoin: 0.1}\n")
    with pytest.raises(PolicyError, match=r"video\.still_max_motoin: unknown key"):
        load_policy(str(bad))
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(str(bad))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("video: {still_max_motion: low}", "video.still_max_motion: must be a number"),
        ("video: {still_max_motion: 5}", "video.still_max_motion: must be a share"),
        ("video: [languages]", "video: expected a mapping"),
        ("sentence: 3", "sentence: expected a mapping"),
        ("clip: {max_longest_repeat: 4}", "clip.max_longest_repeat: belongs in the sentence"),
        ("video: {still_poisons: [naration]}", "video.still_poisons: unknown tasks ['naration']"),
        ("video: {duplicates: 'yes'}", "video.duplicates: must be true or false"),
        ("video: {duplicate_max_frame_bits: 99}", "duplicate_max_frame_bits: must be a whole"),
        ("sentence: {max_longest_repeat: 0}", "max_longest_repeat: must be a whole number"),
        ("videos: {min_height: 240}", "unknown top-level keys ['videos']"),
        ("", "no rule is set"),
        ("name: mine", "no rule is set"),
    ],
)
def test_policy_values_are_validated_on_load(tmp_path: Path, text: str, named: str) -> None:
    """Wrong types, out-of-range thresholds, a key in the wrong section, a misspelt task and
    an empty file are refused when the policy loads, each naming the key (they used to fail
    inside Beam, or to block nothing)."""
    bad = tmp_path / "p.yaml"
    bad.write_text(text + "\n")
    with pytest.raises(PolicyError, match=re.escape(named)):
        load_policy(str(bad))


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    """The fault corpus, a clean video and its re-upload, annotated and built."""
    root = tmp_path_factory.mktemp("curation")
    media = root / "media"
    for spec in (*synthetic.curation_corpus(), synthetic.speaking_corpus()[0]):
        synthetic.make_video(spec, media)
    synthetic.reencode(media / "kitchen.mp4", media / "kitchen-reupload.mp4")
    for f in media.glob("*.truth.json"):
        f.unlink()
    out = root / "out"
    summary = run(
        [
            "--media-dir",
            str(media),
            "--out",
            str(out),
            "--segmenter",
            "punctuation",
            "--clip-model",
            "off",
            "--run-id",
            "cur",
        ]
    )
    assert summary.counters.get("videos_complete") == 7
    built = build(["--annotations", str(out), "--out", str(root / "samples"), "--keep-flagged"])
    return out, root / "samples", built


def _name(video_id: str) -> str:
    return video_id.rsplit("-", 1)[0]


@pytest.mark.slow
def test_each_fault_is_removed_for_its_reason(curated, tmp_path) -> None:
    out, samples, built = curated
    rejections = read_table(str(samples), "rejections").to_pylist()
    reasons = {(_name(r["video_id"]), r["scope"], r["reason"]) for r in rejections}
    (dup,) = [r for r in rejections if r["reason"] == "duplicate_of"]
    assert _name(dup["detail"]) == "kitchen"  # the keeper, as data, not inside the reason
    assert ("german", "speech", "unintelligible_speech") in reasons
    assert ("subtitled", "task", "burned_in_subtitles") in reasons
    assert ("still", "task", "still_picture") in reasons
    assert ("kitchen-reupload", "video", "duplicate_of") in reasons
    assert ("repeats", "sentence", "repetition") in reasons
    assert not any(name == "kitchen" for name, *_ in reasons)  # the clean one: untouched
    rows = read_table(str(samples), "samples", ["video_id", "task"]).to_pylist()
    tasks = {}
    for r in rows:
        tasks.setdefault(_name(r["video_id"]), set()).add(r["task"])
    none = build(
        [
            "--annotations",
            str(out),
            "--out",
            str(tmp_path / "all"),
            "--keep-flagged",
            "--policy",
            "none",
        ]
    )
    everything = read_table(str(tmp_path / "all"), "samples", ["video_id", "sample_id"])

    def kitchen(table):
        return sorted(
            r["sample_id"] for r in table.to_pylist() if _name(r["video_id"]) == "kitchen"
        )

    assert kitchen(everything) == kitchen(
        read_table(str(samples), "samples", ["video_id", "sample_id"])
    )  # the clean video keeps every sample it makes
    assert "kitchen-reupload" not in tasks and len(tasks["kitchen"]) >= 7
    assert not tasks["german"] & {"tsg_dialogue", "caption_to_dialogue", "silence"}
    assert {"narration", "tsg_caption"} <= tasks["german"]  # its picture is fine
    assert not tasks["subtitled"] & {"tsg_dialogue", "caption_to_dialogue", "dialogue_to_caption"}
    assert "narration" in tasks["subtitled"] or "stop" in tasks["subtitled"]
    assert not tasks["still"] & {"tsg_caption", "narration", "stop", "rev"}
    assert "tsg_dialogue" in tasks["still"]  # its speech is fine
    sentences = read_table(str(out), "sentences", ["video_id", "longest_repeat"]).to_pylist()
    assert not [s for s in sentences if _name(s["video_id"]) == "music"]  # VAD: no speech
    assert max(s["longest_repeat"] for s in sentences if _name(s["video_id"]) == "repeats") > 4
    funnel = yaml.safe_load((samples / "build.yaml").read_text())["curation"]
    assert funnel["videos_in"] == 7 and funnel["videos_out"] == 6
    assert funnel["removed"]["duplicate_of"] == {"videos": 1}
    # without --keep-flagged, each sample a quality flag removes is a rejections row too
    flagged = build(["--annotations", str(out), "--out", str(tmp_path / "flagged")])
    rows = [
        r
        for r in read_table(str(tmp_path / "flagged"), "rejections").to_pylist()
        if r["scope"] == "sample"
    ]
    by_flag: dict[str, int] = {}
    for r in rows:
        by_flag[r["reason"]] = by_flag.get(r["reason"], 0) + 1
    assert by_flag and by_flag == flagged.filtered  # every flag counted is a row
    assert by_flag["dry_run_caption"] > 0  # annotated without a VLM
    assert all(len(r["item"]) == 24 for r in rows)  # the sample's id
    removed = yaml.safe_load((tmp_path / "flagged" / "build.yaml").read_text())["curation"][
        "removed"
    ]
    assert removed["dry_run_caption"]["samples"] == by_flag["dry_run_caption"]
    assert funnel["removed"]["still_picture"]["samples"] > 0
    assert funnel["hours_out"] < funnel["hours_in"]
    assert funnel["removed"]["unintelligible_speech"]["speech"] == 1
    top = connect(str(samples)).sql("SELECT reason FROM rejections GROUP BY 1").fetchall()
    assert len(top) >= 5
    page = write_report(str(out), str(samples), str(tmp_path / "report")).read_text()
    assert "<h2>Curation</h2>" in page and "burned_in_subtitles" in page
    assert sum(none.samples.values()) > sum(built.samples.values())
    assert read_table(str(tmp_path / "all"), "rejections").num_rows == 0


@pytest.mark.slow
def test_signals_are_stored_and_older_rows_stay_readable(curated, tmp_path, capsys) -> None:
    out, samples, _ = curated
    videos = {_name(v["video_id"]): v for v in read_table(str(out), "videos").to_pylist()}
    assert videos["german"]["word_score_mean"] < 0.6 < videos["kitchen"]["word_score_mean"]
    assert videos["still"]["motion_mean"] < 0.005 < videos["kitchen"]["motion_mean"]
    assert videos["kitchen"]["text_language"] == "en" and videos["music"]["speech_coverage"] == 0
    assert videos["kitchen"]["inspector"].startswith("tesseract")
    # tiny.en has no language tokens: the spoken language stays null, the text's stands in
    assert all(
        v["spoken_language"] is None and v["spoken_language_score"] is None for v in videos.values()
    )
    clips = read_table(str(out), "clips").to_pylist()
    overlap = {
        _name(c["video_id"]): c["subtitle_overlap"]
        for c in clips
        if c["subtitle_overlap"] is not None
    }
    assert max(v for k, v in overlap.items() if k == "subtitled") >= 0.3
    assert cli.main(["query", str(samples), "@rejected"]) == cli.EXIT_OK
    assert "burned_in_subtitles" in capsys.readouterr().out
    # a videos shard from before the signals (schema v2): read with nulls, never removed
    old = tmp_path / "old"
    import pyarrow.parquet as pq

    table = pq.read_table(next((out / "videos").glob("*.parquet")))
    (old / "videos").mkdir(parents=True)
    keep = [
        f
        for f in table.column_names
        if f not in {"word_score_mean", "motion_mean", "frame_hashes", "text_language"}
    ]
    pq.write_table(table.select(keep), old / "videos" / "v2.parquet")
    back = read_table(str(old), "videos").to_pylist()
    assert all(v["motion_mean"] is None and v["frame_hashes"] is None for v in back)
    assert json.dumps(back[0]["video_id"])


@pytest.mark.slow
def test_the_report_shows_rejected_examples_per_reason(curated, tmp_path) -> None:
    """Look before you tune: each reason with a frame of the removed item, the text it
    concerns and the value against its threshold."""
    from pipeline.report import write_report

    out, samples, _ = curated
    page = write_report(str(out), str(samples), str(tmp_path / "report"))
    text = page.read_text()
    section = text[text.index("<h2>Rejected examples</h2>") :]
    for reason in (
        "unintelligible_speech",
        "burned_in_subtitles",
        "still_picture",
        "duplicate_of",
        "repetition",
    ):
        assert f"<h3>{reason}</h3>" in section, reason
    assert "against threshold" in section  # e.g. the still picture's motion against 0.005
    shots = sorted((tmp_path / "report" / "rejected").glob("*.jpg"))
    assert len(shots) >= 5 and all(p.stat().st_size > 500 for p in shots)
    assert all(f"rejected/{p.name}" in section for p in shots)
