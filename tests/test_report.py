"""The report's sample viewer as plain functions (which samples, where each thing sits on the
strip), and a report of an empty OUT that says so in words. The strips drawn from real media
and read back in a headless browser are in test_end_to_end.py."""

from __future__ import annotations

from pathlib import Path

from pipeline.core import sample_view
from pipeline.core.templates import NOISE_TARGET
from pipeline.report import write_report


def _turn(
    role: str,
    kind: str,
    text: str | None,
    at: int,
    end: int | None = None,
    target: str | None = None,
    learn: bool = False,
) -> dict:
    return {
        "role": role,
        "kind": kind,
        "text": text,
        "start_ms": at,
        "end_ms": at if end is None else end,
        "frame_start": None,
        "frame_end": None,
        "learn": learn,
        "evidence": [],
        "target_override": target,
    }


def _row(sample_id: str, task: str, video: str, turns: list[dict] | None = None) -> dict:
    return {
        "sample_id": sample_id,
        "task": task,
        "split": "train",
        "video_id": video,
        "clip_start_ms": 10_000,
        "clip_end_ms": 22_000,
        "quality_flags": [],
        "turns": turns or [],
    }


def test_pick_takes_different_videos_first_and_is_stable() -> None:
    rows = [_row(f"s{i}", "rev", "a" if i < 4 else "b") for i in range(6)]
    rows.append(_row("t0", "stop", "a"))
    chosen = sample_view.pick(rows, 3)
    assert [r["sample_id"] for r in chosen["rev"]] == ["s0", "s4", "s1"]
    assert [r["sample_id"] for r in chosen["stop"]] == ["t0"]
    assert sample_view.pick(list(reversed(rows)), 3) == chosen


def test_strip_puts_thumbnails_and_turns_at_their_times() -> None:
    turns = [
        _turn("user", "frames", None, 10_000, 16_000),
        _turn("user", "question", "What <b>now</b>?", 16_000),
        _turn("assistant", "answer", "A cut.", 16_000, learn=True),
        _turn("assistant", "noise", "", 19_000, target=NOISE_TARGET, learn=True),
        _turn("user", "remark", "late", 30_000),
    ]
    view = sample_view.strip(_row("s", "contrast", "v", turns))
    assert view.thumb_ms == (11_000, 13_000, 15_000, 17_000, 19_000, 21_000)
    assert [view.share(m.start_ms) for m in view.marks] == [0, 50, 50, 75, 100]
    # the two turns at 16 s are stacked; the band of frames takes no row
    assert [m.row for m in view.marks] == [0, 0, 1, 0, 0]
    assert view.marks[3].text == "(no answer: noise)"
    page = sample_view.strip_html(view, ["t0.jpg", None, None, None, None, None], "no media")
    assert "What &lt;b&gt;now&lt;/b&gt;?" in page and "<b>now</b>" not in page
    assert page.count("<img ") == 1 and "no media" in page
    assert "left:0.0%;width:50.0%" in page  # the frames band covers 10-16 s of 10-22 s


def test_an_empty_out_says_so_in_words(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "report" / "samples").mkdir(parents=True)  # left by an earlier report
    for stale in ("keywords.png", "samples/old-0.jpg", "notes.txt", "samples/holiday-2019.jpg"):
        (tmp_path / "report" / stale).write_bytes(b"x")
    (tmp_path / "report" / ".ominous-report").write_text("keywords.png\nsamples/old-0.jpg\n")
    page = write_report(str(tmp_path / "out"), None, str(tmp_path / "report")).read_text()
    for words in (
        "No videos yet",
        "No video durations",
        "No samples yet",
        "No samples to show",
        "No failures",
        "No build record here",
    ):
        assert words in page
    assert not list((tmp_path / "report").glob("*.png"))
    # what the earlier report wrote (its manifest) is gone; the user's own photo is not
    assert [p.name for p in (tmp_path / "report" / "samples").glob("*.jpg")] == ["holiday-2019.jpg"]
    assert (tmp_path / "report" / "notes.txt").is_file()  # not the report's: kept


def test_a_report_on_a_missing_out_is_refused(tmp_path: Path, capsys) -> None:
    from pipeline import cli

    missing = tmp_path / "no-such-out"
    assert cli.main(["report", str(missing)]) == cli.EXIT_USAGE
    assert "no-such-out does not exist" in capsys.readouterr().err
    assert not missing.exists()
