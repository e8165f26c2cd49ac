"""Mixing by recipe (exact, seeded, split-aware), replay pass-through, and the ChatML
loss-mask layout against golden files (UPDATE_GOLDEN=1 rewrites them); exports are in
test_exports.py."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from chatml import layout, render_chatml
from schema_rows import conform
from test_tasks import TABLES, _info

from pipeline.core.recipes import RecipeError, parse_shorthand
from pipeline.core.tasks import TASKS, BuildConfig, build_video
from pipeline.mix import mix

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text + "\n", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text + "\n", f"{name} differs"


@pytest.fixture(scope="module")
def base_rows() -> list[dict]:
    """One hand-made video's samples (seed 0), the basis of every check here."""
    return build_video(_info(TABLES, "v1"), BuildConfig()) + build_video(
        _info(TABLES, "empty"), BuildConfig()
    )


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory, base_rows) -> Path:
    """30 copies of the hand-made videos; every tenth copy is in the val split."""
    root = tmp_path_factory.mktemp("samples")
    rows = []
    for k in range(30):
        split = "val" if k % 10 == 0 else "train"
        rows += [
            {
                **r,
                "video_id": f"{r['video_id']}-{k}",
                "sample_id": f"{r['sample_id']}-{k}",
                "split": split,
            }
            for r in base_rows
        ]
    for task in TASKS:
        part = root / "samples" / f"task={task}"
        part.mkdir(parents=True)
        pq.write_table(
            conform([r for r in rows if r["task"] == task], "samples"), part / "t.parquet"
        )
    return root


@pytest.fixture(scope="module")
def replay_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "llava.json"
    (path.parent / "old").mkdir()
    for i in range(40):
        (path.parent / "old" / f"{i}.mp4").write_bytes(b"x")  # relative to the file
    path.write_text(
        json.dumps(
            [
                {
                    "id": f"r{i}",
                    "video": f"old/{i}.mp4",
                    "conversations": [
                        {"from": "human", "value": f"<video>\nWhat happens in clip {i}?"},
                        {"from": "gpt", "value": "Someone cooks."},
                    ],
                }
                for i in range(40)
            ]
        )
    )
    return path


def _mixture(folder: Path) -> list[dict]:
    return pq.read_table(folder / "mixture.parquet").to_pylist()


def test_mix_draws_exact_counts_from_train_only(samples_dir, replay_file, tmp_path) -> None:
    summary = mix(
        str(samples_dir),
        parse_shorthand("ORNS1111 (100)"),
        str(tmp_path),
        seed=3,
        replay=str(replay_file),
    )
    assert summary.counts == {"O": 25, "R": 25, "N": 25, "S": 25}
    rows = _mixture(tmp_path)
    by = {c: [r for r in rows if r["component"] == c] for c in "RNS"}
    assert {c: {r["task"] for r in v} for c, v in by.items()} == {
        "R": {"rev"},
        "N": {"noise"},
        "S": {"stop"},
    }
    assert all(r["split"] == "train" and r["mixture"] == "ORNS1111 (100)" for r in rows)
    assert len({r["sample_id"] for r in rows}) == 75  # without replacement
    replay = [json.loads(x) for x in (tmp_path / "replay.jsonl").read_text().splitlines()]
    assert len(replay) == 25 and len({r["id"] for r in replay}) == 25
    original = {r["id"]: r for r in json.loads(replay_file.read_text())}
    folder = replay_file.parent
    # unchanged, but for the media path: absolute now (test_replay_media_paths_are_resolved...)
    assert all(
        {**original[r["id"]], "video": str(folder / original[r["id"]]["video"])} == r
        for r in replay
    )


def test_mix_is_deterministic_for_a_seed(samples_dir, replay_file, tmp_path) -> None:
    recipe = parse_shorthand("ORNS1111 (100)")
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        mix(str(samples_dir), recipe, str(tmp_path / name), seed=seed, replay=str(replay_file))
    a, b, c = (_mixture(tmp_path / n) for n in "abc")
    assert a == b
    assert (tmp_path / "a" / "replay.jsonl").read_text() == (
        tmp_path / "b" / "replay.jsonl"
    ).read_text()
    assert len(c) == len(a) and {r["sample_id"] for r in c} != {r["sample_id"] for r in a}


def test_rev_arms_draw_one_query_position(samples_dir, tmp_path) -> None:
    """+10k-rev-pre and +10k-rev-rev need no second build: each draws rev from one form."""
    for name, variant in (("pre", "before"), ("rev", "inline")):
        recipe = parse_shorthand("R1 (54)")
        recipe = replace(recipe, variants=(("rev", variant),))
        mix(str(samples_dir), recipe, str(tmp_path / name))
        assert {r["variant"] for r in _mixture(tmp_path / name)} == {variant}
        with pytest.raises(RecipeError, match="tasks rev has 54"):
            mix(str(samples_dir), replace(recipe, size=55), str(tmp_path / "more"))
    plus = parse_shorthand("+10k-rev-rev-noise")
    assert plus.variants == (("rev", "inline"),) and "N" not in dict(plus.weights)
    assert parse_shorthand("+10k-rev").variants == () and "R" not in dict(
        parse_shorthand("+10k-rev").weights
    )
    with pytest.raises(RecipeError, match="cannot leave out"):
        parse_shorthand("+10k-rev-post")


def test_too_few_samples_is_an_error_unless_repeats_are_allowed(samples_dir, tmp_path) -> None:
    # rev: 2 cuts x 2 query positions per train copy of v1, 27 train copies -> 108
    with pytest.raises(RecipeError, match="component R needs 200 samples but tasks rev has 108"):
        mix(str(samples_dir), parse_shorthand("R1 (200)"), str(tmp_path))
    summary = mix(str(samples_dir), parse_shorthand("R1 (200)"), str(tmp_path), allow_repeat=True)
    rows = _mixture(tmp_path)
    assert summary.counts == {"R": 200} and len(rows) == 200
    assert len({r["sample_id"] for r in rows}) == 108
    val = mix(str(samples_dir), parse_shorthand("R1 (6)"), str(tmp_path / "val"), split="val")
    assert val.counts == {"R": 6}
    assert {r["split"] for r in _mixture(tmp_path / "val")} == {"val"}
    with pytest.raises(RecipeError, match="pass --replay"):
        mix(str(samples_dir), parse_shorthand("ORNS1111 (8)"), str(tmp_path / "x"))


def test_plus_recipe_keeps_the_whole_replay_set(samples_dir, replay_file, tmp_path) -> None:
    summary = mix(
        str(samples_dir), parse_shorthand("+40-noise"), str(tmp_path), replay=str(replay_file)
    )
    assert summary.counts == {"R": 10, "S": 10, "A": 10, "Q": 10, "O": 40}
    assert "noise" not in {r["task"] for r in _mixture(tmp_path)}


@pytest.mark.parametrize("task", TASKS)
def test_chatml_layout_golden(base_rows, task: str) -> None:
    row = min((r for r in base_rows if r["task"] == task), key=lambda r: r["clip_start_ms"])
    segments = render_chatml(row)
    _golden(f"chatml/{task}.txt", layout(segments))
    learned = [s.text for s in segments if s.learn]
    if task == "stop":
        assert learned[-1] == "<|im_end|>"
    if task == "noise":
        assert learned == ["<|im_start|><|im_end|>"]


def test_mixed_rows_keep_component_and_samples_schema(samples_dir, tmp_path) -> None:
    mix(str(samples_dir), parse_shorthand("NS11 (10)"), str(tmp_path))
    rows = _mixture(tmp_path)
    assert {r["component"] for r in rows} == {"N", "S"}
    assert replace is not None and all(r["provenance"]["seed"] == 0 for r in rows)


def test_replay_media_paths_are_resolved_or_refused(samples_dir, replay_file, tmp_path) -> None:
    """A replay row's relative `video` is resolved against the replay's folder (or
    --replay-root) and written absolute, so no trainer joins it to its own media folder; a
    path that resolves to no file is an error that lists it, and writes nothing."""
    from pipeline import cli

    out = tmp_path / "mix"
    mix(str(samples_dir), parse_shorthand("O1 (10)"), str(out), replay=str(replay_file))
    videos = [json.loads(x)["video"] for x in (out / "replay.jsonl").read_text().splitlines()]
    assert videos and all(Path(v).is_absolute() and Path(v).is_file() for v in videos)
    assert all(Path(v).parent == replay_file.parent / "old" for v in videos)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(replay_file.read_text())
    with pytest.raises(RecipeError, match=r"40 replay media paths are no file") as err:
        mix(str(samples_dir), parse_shorthand("+40"), str(tmp_path / "m2"), replay=str(elsewhere))
    assert "old/0.mp4" in str(err.value) and "... and 30 more" in str(err.value)
    assert not (tmp_path / "m2").exists()
    argv = ["mix", "--samples", str(samples_dir), "--recipe", "O1 (10)", "--replay"]
    argv += [str(elsewhere), "--out", str(tmp_path / "m3")]
    assert cli.main([*argv, "--replay-root", str(replay_file.parent)]) == cli.EXIT_OK
    from pipeline.core.exporters import ExportError
    from pipeline.export import export

    first = json.loads((out / "replay.jsonl").read_text().splitlines()[0])
    (out / "replay.jsonl").write_text(json.dumps({**first, "video": "old/0.mp4"}) + "\n")
    with pytest.raises(ExportError, match="1 replay media paths are relative or no file"):
        export(str(out), "llava", str(tmp_path / "exported"), video_root=str(tmp_path))
