"""`ominous experiment plan` and `ominous experiment score`: the founding notes' table of
mixture arms, one command per step.

plan: an experiment file (arms by recipe, a baseline) + a build + a replay set -> EXP/ with
each arm's mixture and export, ONE eval prompt set of the test split shared by every arm (no
mixture draws from the test split), and EXP/README.md with each arm's training command.
Every arm's counts are checked before anything is written; EXP appears whole or not at all.

score: each arm's predictions (EXP/<arm>/predictions.jsonl) -> EXP/scores.md and scores.png:
one row per arm, the baseline first, columns short / medium / long / overall and grounding,
with deltas against the baseline. An arm without predictions keeps its row, empty.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from pipeline.core import formats
from pipeline.core.formats.llamafactory import dataset_name as llamafactory_dataset
from pipeline.core.recipes import Recipe, RecipeError
from pipeline.errors import UsageError
from pipeline.io.recipe_files import load_recipe
from pipeline.io.replay import read_replay

PLAN_FILE = "experiment.yaml"
PREDICTIONS = "predictions.jsonl"
COLUMNS = ("short", "medium", "long", "overall", "grounding")


class ExperimentError(UsageError):
    """The experiment cannot be planned or scored as asked; nothing is written."""


@dataclass(frozen=True)
class Arm:
    name: str
    recipe: str | None  # None: the baseline, a model before any of this data
    folder: str


def slug(name: str) -> str:
    """An arm's folder name: "+10k-rev-pre" -> plus10k-rev-pre, "ORNS1111 (10k)" ->
    orns1111-10k."""
    text = name.strip().lower().replace("+", "plus")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "arm"


def read_experiment(path: str) -> tuple[str, list[Arm], int]:
    """(name, arms with the baseline first, seed) from an experiment file."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ExperimentError(f"cannot read experiment file {path}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("arms"), list) or not doc["arms"]:
        raise ExperimentError(
            f"{path}: expected a mapping with `arms`, a list of recipes "
            '("+10k") or {name, recipe} entries'
        )
    arms = []
    baseline = doc.get("baseline")
    if baseline is not None:
        if not isinstance(baseline, str) or not baseline.strip():
            raise ExperimentError(f"{path}: `baseline` must name the untrained model")
        arms.append(Arm(baseline.strip(), None, slug(baseline)))
    for k, entry in enumerate(doc["arms"], 1):
        if isinstance(entry, str):
            entry = {"name": entry, "recipe": entry}
        if not (isinstance(entry, dict) and isinstance(entry.get("recipe"), str)):
            raise ExperimentError(f"{path}: arm {k} needs a recipe (a string, or {{name, recipe}})")
        name = str(entry.get("name", entry["recipe"]))
        arms.append(Arm(name, entry["recipe"], slug(name)))
    folders = [a.folder for a in arms]
    clashes = sorted({f for f in folders if folders.count(f) > 1})
    if clashes or PLAN_FILE in folders or "eval" in folders:
        raise ExperimentError(f"{path}: arm names must give distinct folders ({clashes})")
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ExperimentError(f"{path}: seed must be a whole number")
    return str(doc.get("name", Path(path).stem)), arms, seed


def scaled(recipe: Recipe, scale: float) -> Recipe:
    """The same recipe at `scale` of its size (at least one sample)."""
    return replace(recipe, size=max(1, round(recipe.size * scale)))


@dataclass(frozen=True)
class PlanSummary:
    out: str
    arms: dict[str, dict[str, int]]
    eval_samples: int


def plan(
    experiment: str,
    samples: str,
    out: str,
    fmt: str,
    replay: str | None = None,
    scale: float = 1.0,
    annotations: str | None = None,
    video_root: str | None = None,
    allow_repeat: bool = False,
    noise_target: str = "marker",
    replay_root: str | None = None,
) -> PlanSummary:
    """Every arm's mixture and export, one shared eval set, and the README, published as one
    folder; every count is checked first, so a short recipe writes nothing."""
    from pipeline.evaluate import export_eval
    from pipeline.export import export
    from pipeline.mix import check_counts, mix

    if fmt not in formats.FORMATS:
        raise ExperimentError(f"unknown format {fmt!r}; known: {', '.join(formats.FORMATS)}")
    if not 0 < scale <= 1:
        raise ExperimentError(f"--scale {scale}: give a factor in (0, 1]")
    name, arms, seed = read_experiment(experiment)
    final = Path(out)
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise ExperimentError(f"{out} exists and is not an empty folder: plan into a new one")
    replay_rows = len(read_replay(replay)) if replay else None
    limit = max(1, round(replay_rows * scale)) if replay_rows and scale < 1 else None
    recipes = {}
    for arm in arms:
        if arm.recipe is None:
            continue
        try:
            recipe = scaled(load_recipe(arm.recipe), scale)
            check_counts(samples, recipe, replay_rows, "train", allow_repeat)
        except RecipeError as exc:
            raise ExperimentError(f"arm {arm.name!r} ({recipe_text(arm, scale)}): {exc}") from exc
        recipes[arm.name] = recipe
    work = final.parent / f".{final.name}.plan-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        reference = formats.default_reference(fmt)
        about = export_eval(samples, str(work / "eval"), "test", annotations, video_root, reference)
        planned: dict[str, dict[str, Any]] = {}
        for arm in arms:
            folder = work / arm.folder
            folder.mkdir()
            if arm.recipe is None:
                planned[arm.name] = {"folder": arm.folder, "baseline": True}
                continue
            got = mix(
                samples,
                recipes[arm.name],
                str(folder / "mix"),
                seed,
                replay,
                "train",
                allow_repeat,
                limit,
                replay_root,
            )
            done = export(
                str(folder / "mix"),
                fmt,
                str(folder / "export"),
                annotations,
                video_root,
                noise_target=noise_target,
            )
            planned[arm.name] = {
                "folder": arm.folder,
                "recipe": arm.recipe,
                "size": recipes[arm.name].size,
                "recipe_name": recipes[arm.name].name,
                "counts": got.counts,
                "samples": done.samples,
                "replay": done.replay,
                "skipped": done.skipped,
                "files": [Path(f).name for f in done.files],
                "video_folder": done.video_folder,
            }
        doc = {
            "experiment": name,
            "source": experiment,
            "samples": samples,
            "annotations": annotations,
            "video_root": video_root,
            "replay": replay,
            "format": fmt,
            "scale": scale,
            "seed": seed,
            "noise_target": noise_target,
            "time_reference": reference,
            "eval": {"split": "test", "samples": about["samples"]},
            "arms": planned,
        }
        (work / PLAN_FILE).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        (work / "README.md").write_text(readme(doc), encoding="utf-8")
        if final.exists():
            final.rmdir()  # empty, checked above
        os.replace(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return PlanSummary(out, {a: p.get("counts", {}) for a, p in planned.items()}, about["samples"])


def recipe_text(arm: Arm, scale: float) -> str:
    return arm.recipe if scale == 1 else f"{arm.recipe} at scale {scale:g}"


def train_command(fmt: str, arm: dict[str, Any]) -> str:
    """The trainer's own command for one arm (model names are the seed's; change at will)."""
    folder = f"EXP/{arm['folder']}"
    data = f"{folder}/export"
    ckpt = f"{folder}/checkpoint"
    if fmt == "llamafactory":
        dataset = llamafactory_dataset(arm["recipe_name"])
        return (
            f"llamafactory-cli train --stage sft --do_train --model_name_or_path "
            f"Qwen/Qwen2-VL-7B-Instruct --template qwen2_vl --finetuning_type full "
            f"--dataset_dir {data} --dataset {dataset} --cutoff_len 32768 "
            f"--per_device_train_batch_size 1 --gradient_accumulation_steps 16 "
            f"--learning_rate 1e-5 --num_train_epochs 1 --bf16 --output_dir {ckpt}"
        )
    if fmt == "swift":
        return (
            f"swift sft --model Qwen/Qwen2-VL-7B-Instruct --tuner_type full --dataset "
            f"{data}/mixture.jsonl --torch_dtype bfloat16 --num_train_epochs 1 "
            f"--learning_rate 1e-5 --output_dir {ckpt}"
        )
    if fmt == "llava":
        return (
            f"torchrun --nproc_per_node 8 llava/train/train_mem.py --model_name_or_path "
            f"lmms-lab/LongVA-7B --version qwen_1_5 --data_path {data}/mixture_llava.yaml "
            f"--video_folder {arm.get('video_folder') or '/'} --mm_tunable_parts "
            f"mm_mlp_adapter,mm_language_model --bf16 True --num_train_epochs 1 "
            f"--learning_rate 1e-5 --output_dir {ckpt}  # in a LLaVA-NeXT checkout"
        )
    if fmt == "livecc":
        return (
            f"torchrun --standalone --nproc_per_node 8 train.py --pretrained_model_name_or_"
            f"path chenjoya/LiveCC-7B-Base --annotation_paths {data}/mixture_livecc.jsonl "
            f"--do_train True --bf16 True --num_train_epochs 1 --learning_rate 1e-5 "
            f"--output_dir {ckpt}  # in a LiveCC checkout"
        )
    if fmt == "videollm-online":
        return (
            f"python -m train --llm_pretrained meta-llama/Meta-Llama-3-8B-Instruct "
            f"--train_datasets ominous --output_dir {ckpt}  # in a VideoLLM-online "
            f"checkout, with {data}/mixture_videollm_online.json registered as the "
            "`ominous` dataset and its frame features encoded (docs/mixing-and-exporting.md)"
        )
    return f"# your trainer, on {data}/mixture_streaming.json"


def readme(doc: dict[str, Any]) -> str:
    fmt = doc["format"]
    lines = [
        f"# Experiment {doc['experiment']}",
        "",
        f"Planned from `{doc['source']}` on the build `{doc['samples']}`"
        + (f", replay `{doc['replay']}`" if doc["replay"] else "")
        + f", format `{fmt}`, scale {doc['scale']:g}, seed {doc['seed']}.",
        "",
        f"Every arm is evaluated on the same prompts: `eval/eval_prompts.jsonl`, "
        f"{doc['eval']['samples']} samples of the test split (no mixture draws from it), "
        f"times on the {doc['time_reference']}'s timeline.",
        "",
        "1. Train each arm (below; run from where EXP is, or replace `EXP`).",
        "2. Predict: write each arm's answers to `EXP/<folder>/predictions.jsonl` "
        "(`ominous eval run --prompts EXP/eval --out ... --model-path CHECKPOINT` or "
        "`--model-url`: docs/evaluation.md); the baseline's "
        "come from the untrained model.",
        "3. Score: `ominous experiment score EXP` writes `EXP/scores.md` and `EXP/scores.png`.",
        "",
        "| arm | folder | recipe | samples | replay |",
        "|---|---|---|---|---|",
    ]
    for name, arm in doc["arms"].items():
        if arm.get("baseline"):
            lines.append(f"| {name} (baseline) | {arm['folder']} | - | - | - |")
        else:
            lines.append(
                f"| {name} | {arm['folder']} | `{arm['recipe']}` (size "
                f"{arm['size']}) | {arm['samples']} | {arm['replay']} |"
            )
    lines += ["", "## Training commands", ""]
    for name, arm in doc["arms"].items():
        if arm.get("baseline"):
            continue
        lines += [f"### {name}", "", "```", train_command(fmt, arm), "```", ""]
    return "\n".join(lines)


def _cell(value: float | None, base: float | None) -> str:
    if value is None:
        return ""
    text = f"{100 * value:.1f}"
    if base is not None:
        text += f" ({100 * (value - base):+.1f})"
    return text


def score(exp: str, predictions: str = PREDICTIONS) -> tuple[Path, Path]:
    """EXP/scores.md and EXP/scores.png from each arm's predictions."""
    from pipeline.evaluate import evaluate, heatmap

    root = Path(exp)
    try:
        doc = yaml.safe_load((root / PLAN_FILE).read_text(encoding="utf-8"))
        arms = doc["arms"]
    except (OSError, yaml.YAMLError, TypeError, KeyError) as exc:
        raise ExperimentError(
            f"{exp} holds no experiment plan ({PLAN_FILE}): run ominous "
            f"experiment plan first ({exc})"
        ) from exc
    rows: dict[str, dict[str, float | None]] = {}
    for name, arm in arms.items():
        path = root / arm["folder"] / predictions
        if not path.is_file():
            rows[name] = dict.fromkeys(COLUMNS)
            continue
        got = evaluate(
            doc["samples"],
            str(path),
            str(root / arm["folder"] / "eval-report"),
            "test",
            name,
            doc["time_reference"],
            doc.get("annotations"),
        )
        buckets = got.buckets or {}
        rows[name] = {
            **{b: (buckets.get(b) or {}).get("overall") for b in COLUMNS[:3]},
            "overall": got.overall,
            "grounding": got.grounding["score"] if got.grounding else None,
        }
    baseline = next((n for n, a in arms.items() if a.get("baseline")), None)
    base = rows.get(baseline) if baseline else None
    order = ([baseline] if baseline else []) + [n for n in rows if n != baseline]
    lines = ["| arm | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name in order:
        ref = base if name != baseline and base else {}
        cells = [_cell(rows[name][c], ref.get(c)) for c in COLUMNS]
        label = f"{name} (baseline)" if name == baseline else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    from pipeline.evaluate import HEADLINES

    lines += [
        "",
        "Scores x100 on the shared test prompts; in brackets the difference from the "
        "baseline. short / medium / long: the overall over videos of that duration "
        "(Video-MME's buckets: < 2 min, 4-15 min, 30-60 min). " + HEADLINES,
        "An empty row: no predictions yet.",
    ]
    md = root / "scores.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    png = root / "scores.png"
    heatmap(
        order,
        list(COLUMNS),
        [[rows[n][c] for c in COLUMNS] for n in order],
        png,
        title=str(doc.get("experiment", "")),
    )
    (root / "scores.json").write_text(
        json.dumps({n: rows[n] for n in order}, indent=1, allow_nan=False)
    )
    return md, png
