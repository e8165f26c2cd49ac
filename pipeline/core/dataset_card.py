"""The samples folder's dataset card: `datasets.load_dataset(SAMPLES)` reads its YAML header,
whose `configs` map each split to its Hive folders (`split=` folders alone are not splits to
`datasets`), and one config per task for loading a single task."""

from __future__ import annotations

import yaml

from pipeline.core.splits import SPLITS

HF_SPLIT = {"train": "train", "val": "validation", "test": "test"}


def _files(task: str, splits: tuple[str, ...]) -> list[dict[str, str]]:
    return [
        {"split": HF_SPLIT[s], "path": f"samples/task={task}/split={s}/*.parquet"} for s in splits
    ]


def dataset_card(tasks: dict[str, tuple[str, ...]], run_id: str) -> str:
    """tasks: task -> the splits that hold rows. Empty splits are left out: `datasets` fails
    on a pattern that matches no file."""
    splits = tuple(s for s in SPLITS if any(s in have for have in tasks.values()))
    configs = [
        {
            "config_name": "default",
            "default": True,
            "data_files": [f for s in splits for f in _files("*", (s,))],
        }
    ]
    configs += [
        {"config_name": task, "data_files": _files(task, have)}
        for task, have in sorted(tasks.items())
        if have
    ]
    header = yaml.safe_dump(
        {"configs": configs, "tags": ["video", "streaming", "grounding"]}, sort_keys=False
    )
    return (
        f"---\n{header}---\n\n# Samples (build run {run_id})\n\n"
        "Grounding and streaming samples, one Parquet folder per task and split "
        "(`samples/task=<task>/split=<split>/`).\n\n"
        "```python\nfrom datasets import load_dataset\n"
        'ds = load_dataset("path/to/this/folder")            # '
        + (", ".join(HF_SPLIT[s] for s in splits) or "no split holds samples")
        + "\n"
        'rev = load_dataset("path/to/this/folder", "rev")   # one task\n```\n'
    )
