"""`ominous experiment plan` and `score`: the seed's own experiment file planned on a small
build with --scale, one eval set shared by every arm and kept out of every mixture, recipes
that ask for too much refused before anything is written, and the notes' table of scores with
the baseline first and deltas against it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image
from schema_rows import write_samples, write_videos
from test_evaluate import references
from test_tasks import TABLES, _info

from pipeline import cli
from pipeline.core.recipes import parse_shorthand
from pipeline.core.tasks import BuildConfig, build_video
from pipeline.experiment import ExperimentError, plan, read_experiment, score, slug
from pipeline.io.parquet import read_table

REPO = Path(__file__).resolve().parents[1]
SEED_REPLAY = REPO / "workflows" / "experiments" / "seed-replay.yaml"
COPIES = 30  # copies of the hand-made videos: 24 train, 3 val, 3 test


def _split(k: int) -> str:
    return "val" if k % 10 == 0 else "test" if k % 10 == 5 else "train"


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(SAMPLES, media root, replay file): copies of the hand-made videos in three splits."""
    root = tmp_path_factory.mktemp("exp")
    base = build_video(_info(TABLES, "v1"), BuildConfig()) + build_video(
        _info(TABLES, "one"), BuildConfig()
    )
    rows = []
    media = root / "media"
    media.mkdir()
    for k in range(COPIES):
        for r in base:
            rows.append(
                {
                    **r,
                    "video_id": f"{r['video_id']}-{k}",
                    "split": _split(k),
                    "sample_id": f"{r['sample_id']}-{k}",
                }
            )
        for v in ("v1", "one"):
            (media / f"{v}-{k}.mp4").write_bytes(b"x")
    samples = write_samples(root / "samples", rows)
    (media / "r.mp4").write_bytes(b"x")
    replay = root / "llava.json"
    replay.write_text(
        json.dumps(
            [
                {
                    "id": f"r{i}",
                    "video": str(media / "r.mp4"),
                    "conversations": [
                        {"from": "human", "value": "<image>\nHi?"},
                        {"from": "gpt", "value": f"Hello {i}."},
                    ],
                }
                for i in range(400)
            ]
        )
    )
    return samples, media, replay


def test_the_seed_file_lists_every_arm_of_the_notes() -> None:
    name, arms, _ = read_experiment(str(SEED_REPLAY))
    assert name == "seed-replay" and arms[0].name == "LongVA" and arms[0].recipe is None
    assert [a.name for a in arms[1:]] == [
        "+1k",
        "+10k",
        "+100k",
        "+10k-rev-pre",
        "+10k-rev-rev",
        "+100k-rev-pre",
        "+100k-rev-rev",
        "+10k-noise",
        "+10k-stop",
        "RNS (30k)",
        "ORNS (40k)",
        "RNS211 (20k)",
        "ORNS1111 (10k)",
        "ORNS2111 (25k)",
        "RNS211 (10k)",
        "NRS211 (10k)",
    ]
    for arm in arms[1:]:
        parse_shorthand(arm.recipe)  # each one a recipe mix reads
    assert slug("+10k-rev-pre") == "plus10k-rev-pre" and slug("ORNS1111 (10k)") == "orns1111-10k"


def test_plan_at_scale_writes_every_arm_and_one_shared_eval_set(build, tmp_path) -> None:
    samples, media, replay = build
    exp = tmp_path / "exp"
    summary = plan(
        str(SEED_REPLAY),
        str(samples),
        str(exp),
        "swift",
        str(replay),
        scale=0.001,
        video_root=str(media),
    )
    doc = yaml.safe_load((exp / "experiment.yaml").read_text())
    assert len(doc["arms"]) == 17 and summary.eval_samples == doc["eval"]["samples"]
    prompts = [json.loads(x) for x in (exp / "eval" / "eval_prompts.jsonl").open()]
    eval_ids = {p["sample_id"] for p in prompts}
    assert eval_ids and all(p["sample_id"].endswith(("-5", "-15", "-25")) for p in prompts)
    for name, arm in doc["arms"].items():
        folder = exp / arm["folder"]
        assert folder.is_dir()
        if arm.get("baseline"):
            assert not (folder / "mix").exists()
            continue
        mixture = pq.read_table(folder / "mix" / "mixture.parquet").to_pylist()
        assert {r["split"] for r in mixture} == {"train"}
        assert not {r["sample_id"] for r in mixture} & eval_ids  # the test split: never drawn
        replayed = folder / "mix" / "replay.jsonl"
        rows = replayed.read_text().splitlines() if replayed.is_file() else []
        assert arm["size"] == max(1, round(parse_shorthand(arm["recipe"]).size * 0.001))
        if name.startswith("+"):  # the whole replay set, shrunk by the same factor (>= 1)
            assert len(mixture) == arm["size"] and len(rows) == 1
        else:  # O draws its share of the size from the replay set
            assert len(mixture) + len(rows) == arm["size"]
            assert len(rows) == arm["counts"].get("O", 0)
        assert (folder / "export" / "mixture.jsonl").is_file()
        if name.endswith("rev-pre"):
            assert {r["variant"] for r in mixture if r["task"] == "rev"} == {"before"}
        if name.endswith("rev-rev"):
            assert {r["variant"] for r in mixture if r["task"] == "rev"} == {"inline"}
        if name == "+10k-noise":
            assert "noise" not in {r["task"] for r in mixture}
    readme = (exp / "README.md").read_text()
    assert readme.count("swift sft --model") == 16
    assert "EXP/plus10k-rev-pre/export/mixture.jsonl" in readme
    assert not list(tmp_path.glob(".exp.plan-*"))


def test_a_recipe_asking_for_too_much_fails_before_anything_is_written(
    build, tmp_path, capsys
) -> None:
    samples, media, replay = build
    exp = tmp_path / "exp"
    with pytest.raises(ExperimentError, match=r"arm '\+1k'.*component R needs 200 samples"):
        plan(
            str(SEED_REPLAY),
            str(samples),
            str(exp),
            "swift",
            str(replay),
            scale=1.0,
            video_root=str(media),
        )
    assert not exp.exists() and not list(tmp_path.iterdir())
    code = cli.main(
        [
            "experiment",
            "plan",
            "--experiment",
            str(SEED_REPLAY),
            "--samples",
            str(samples),
            "--replay",
            str(replay),
            "--format",
            "swift",
            "--out",
            str(exp),
            "--video-root",
            str(media),
            "--scale",
            "0.01",
        ]
    )
    err = capsys.readouterr().err  # at 0.01, +1k and +10k fit; +100k needs 200 rev of 96
    assert code == cli.EXIT_USAGE and "arm '+100k' (+100k at scale 0.01)" in err
    assert not exp.exists()
    small = tmp_path / "small.yaml"
    small.write_text("arms: ['R1 (200)']\n")  # 96 rev samples in train
    with pytest.raises(ExperimentError, match=r"R1 \(200\).*has 96"):
        plan(str(small), str(samples), str(exp), "swift", video_root=str(media))
    plan(str(small), str(samples), str(exp), "swift", video_root=str(media), allow_repeat=True)
    assert len(pq.read_table(exp / "r1-200" / "mix" / "mixture.parquet")) == 200
    with pytest.raises(ExperimentError, match="not an empty folder"):
        plan(str(small), str(samples), str(exp), "swift", video_root=str(media), allow_repeat=True)
    # llava shows the whole video: its eval prompts need durations, so --annotations
    with pytest.raises(Exception, match="--annotations"):
        plan(
            str(small),
            str(samples),
            str(tmp_path / "llava"),
            "llava",
            video_root=str(media),
            allow_repeat=True,
        )
    assert not (tmp_path / "llava").exists()


def _annotations(root: Path, media: Path) -> Path:
    """v1 copies last 20 s (short), `one` copies 5 min (medium, in Video-MME's buckets)."""
    return write_videos(
        root,
        {
            p.stem: (p, 20_000 if p.stem.startswith("v1") else 300_000)
            for p in sorted(media.glob("*-*.mp4"))
        },
    )


def test_score_writes_the_notes_table_with_the_baseline_first(build, tmp_path) -> None:
    samples, media, replay = build
    exp = tmp_path / "exp"
    spec = tmp_path / "two.yaml"
    spec.write_text(
        "name: two\nbaseline: LongVA\narms: ['RNS211 (20)', '+10', "
        "{name: 'NRS (10)', recipe: 'NRS111 (10)'}]\n"
    )
    out = _annotations(tmp_path / "out", media)
    plan(str(spec), str(samples), str(exp), "swift", str(replay), annotations=str(out))
    test_rows = [r for r in read_table(str(samples), "samples").to_pylist() if r["split"] == "test"]
    perfect = references(test_rows)
    (exp / "longva" / "predictions.jsonl").write_text("")  # silent: the untrained model
    (exp / "rns211-20" / "predictions.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in perfect)
    )
    (exp / "plus10" / "predictions.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in perfect[: len(perfect) // 2])
    )
    assert cli.main(["experiment", "score", str(exp)]) == cli.EXIT_OK
    table = (exp / "scores.md").read_text().splitlines()
    assert table[0] == "| arm | short | medium | long | overall | grounding |"
    assert table[2].startswith("| LongVA (baseline) |")
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in table[2:6]
    }
    assert rows["RNS211 (20)"][3].startswith("100.0 (+") and rows["RNS211 (20)"][4] == (
        "100.0 (+100.0)"
    )
    assert rows["RNS211 (20)"][0].startswith("100.0")  # v1 copies: short
    assert rows["RNS211 (20)"][1].startswith("100.0")  # `one` copies: medium
    assert rows["RNS211 (20)"][2] == ""  # no long video
    assert rows["NRS (10)"] == ["", "", "", "", ""]  # no predictions yet: an empty row
    base = float(rows["LongVA (baseline)"][3])
    half = float(rows["+10"][3].split()[0])
    assert base < half < 100
    scores = json.loads((exp / "scores.json").read_text())
    assert list(scores) == ["LongVA", "RNS211 (20)", "+10", "NRS (10)"]
    assert np.asarray(Image.open(exp / "scores.png").convert("L")).std() > 5
    with pytest.raises(ExperimentError, match="no experiment plan"):
        score(str(tmp_path))
