"""`ominous export --format lmms-eval`: the build's one-question tasks as an lmms-eval task
folder, so `python -m lmms_eval --model <any model they support> --tasks ominous
--include_path DIR` evaluates a model on them, the way LongVA reports Video-MME.

The folder holds a task YAML per grounding task (both tsg tasks, caption -> speech, speech ->
caption) and an `ominous` group over them; `data/<task>.jsonl`, one document per sample; each
sample's window cut from its video into `clips/<sample_id>.mp4` (every model they support takes
a video file, none a window of one); and `utils.py`, which scores answers with this project's
own metrics (`pipeline.core.evaluation`, imported from an installed ominous, else from the
copy in `_ominous/`), so a task's score is the headline `ominous eval` gives it, x100.
Streaming tasks have no one-question form there and are left out (`ominous eval run` asks
them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.evaluation import TIME_REFERENCES
from pipeline.core.exporters import ExportError
from pipeline.core.tasks import GROUNDING_TASKS

GROUP = "ominous"
SCORER = "core/evaluation.py"  # copied with every pipeline module it imports


def scorer_files(start: str = SCORER) -> list[str]:
    """`start` and the pipeline modules it imports, transitively (paths in the package), and
    each package's __init__.py: what a copy of the scorer needs to import outside ominous."""
    import ast

    package = Path(__file__).resolve().parent
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse((package / name).read_text(encoding="utf-8"))):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            for module in modules:
                if not module.startswith("pipeline."):
                    continue
                path = module.removeprefix("pipeline.").replace(".", "/")
                for candidate in (f"{path}.py", f"{path}/__init__.py"):
                    if (package / candidate).is_file():
                        todo.append(candidate)
    inits = {str(folder / "__init__.py") for f in seen for folder in Path(f).parents}
    return sorted(seen | inits)


ROW_KEYS = (
    "sample_id",
    "task",
    "task_family",
    "video_id",
    "clip_start_ms",
    "clip_end_ms",
    "grounding",
    "turns",
)
CUT_TIMEOUT_S = 600

UTILS = '''"""ominous tasks for lmms-eval (written by `ominous export --format lmms-eval`)."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    from pipeline.core import evaluation
except ImportError:  # no ominous installed here: the copy of its scorer in this folder
    sys.path.insert(0, os.path.join(HERE, "_ominous"))
    from pipeline.core import evaluation


def doc_to_visual(doc):
    """The sample's window, cut from its video."""
    return [os.path.join(HERE, doc["clip"])]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kwargs = lmms_eval_specific_kwargs or {}
    return kwargs.get("pre_prompt", "") + doc["question"] + kwargs.get("post_prompt", "")


def process_results(doc, results):
    return {"ominous_score": {"row": doc["row"], "text": results[0] if results else ""}}


def aggregate(items):
    """The task's headline as `ominous eval` computes it (x100)."""
    rows = [json.loads(item["row"]) for item in items]
    predictions = {row["sample_id"]: [evaluation.Response(item["text"] or "")]
                   for row, item in zip(rows, items)}
    scored = evaluation.score(rows, predictions)
    return 100 * scored["tasks"][rows[0]["task"]]["score"] if rows else 0.0
'''


def _cut(source: str, start_s: float, end_s: float, target: Path) -> None:
    """The window [start, end) of a video as its own file (frame-accurate: re-encoded)."""
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-ss",
        f"{start_s:.3f}",
        "-i",
        source,
        "-t",
        f"{end_s - start_s:.3f}",
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(target),
    ]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=CUT_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        raise ExportError(
            f"cannot cut {start_s:g}-{end_s:g} s from {source}: "
            f"{exc.stderr.decode('utf-8', 'replace')[-300:]}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ExportError(f"cutting {source} took over {CUT_TIMEOUT_S} s") from exc


def task_yaml(task: str, data: Path, max_new_tokens: int) -> dict[str, Any]:
    return {
        "task": f"{GROUP}_{task}",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_visual": Function("utils.doc_to_visual"),
        "doc_to_text": Function("utils.doc_to_text"),
        "doc_to_target": "answer",
        "generation_kwargs": {
            "max_new_tokens": max_new_tokens,
            "temperature": 0,
            "do_sample": False,
        },
        "process_results": Function("utils.process_results"),
        "metric_list": [
            {
                "metric": "ominous_score",
                "aggregation": Function("utils.aggregate"),
                "higher_is_better": True,
            }
        ],
        "metadata": [{"version": 1.0}],
    }


class Function(str):
    """A `!function module.name` reference in an lmms-eval task YAML."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Function, lambda d, v: d.represent_scalar("!function", str(v)))


def _dump(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def export_lmms_eval(
    samples: str,
    out: str,
    split: str = "test",
    annotations: str | None = None,
    video_root: str | None = None,
    max_new_tokens: int = 128,
) -> dict[str, Any]:
    from pipeline.evaluate import EvalError, prompt_and_reference, test_rows, write_atomic
    from pipeline.export import check_media_exist, resolve_videos

    try:
        rows = [r for r in test_rows(samples, split) if r["task"] in GROUNDING_TASKS]
    except EvalError as exc:
        raise ExportError(str(exc)) from exc
    if not rows:
        raise ExportError(
            f"no grounding samples in split {split!r} of {samples}: lmms-eval "
            "tasks ask one question, which only grounding samples do"
        )
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise ExportError(f"--out {out} is a file, not a folder")
    videos = resolve_videos(annotations, video_root, {r["video_id"] for r in rows})
    check_media_exist(videos)
    (target / "clips").mkdir(parents=True, exist_ok=True)
    (target / "data").mkdir(exist_ok=True)
    docs: dict[str, list[str]] = {}
    for row in rows:
        media = videos[row["video_id"]].media
        prompt, ref = prompt_and_reference(row, media, TIME_REFERENCES[0])
        clip = Path("clips") / f"{row['sample_id']}.mp4"
        if not (target / clip).is_file():
            _cut(media, prompt["video_start"], prompt["video_end"], target / clip)
        kept = {k: row[k] for k in ROW_KEYS}
        docs.setdefault(row["task"], []).append(
            json.dumps(
                {
                    "sample_id": row["sample_id"],
                    "video": media,
                    "clip": str(clip),
                    "window": prompt["window"],
                    "question": prompt["messages"][-1]["content"],
                    "answer": ref["target"][0]["text"],
                    "row": json.dumps(kept, ensure_ascii=False),
                },
                ensure_ascii=False,
            )
        )
    for task, lines in docs.items():
        data = (target / "data" / f"{task}.jsonl").resolve()
        write_atomic(data, "\n".join(lines) + "\n")
        write_atomic(target / f"{GROUP}_{task}.yaml", _dump(task_yaml(task, data, max_new_tokens)))
    write_atomic(
        target / f"{GROUP}.yaml",
        yaml.safe_dump(
            {"group": GROUP, "task": [f"{GROUP}_{t}" for t in sorted(docs)]}, sort_keys=False
        ),
    )
    write_atomic(target / "utils.py", UTILS)
    package = Path(__file__).resolve().parent
    for name in scorer_files():
        copy = target / "_ominous" / "pipeline" / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package / name, copy)
    about = {
        "format": "lmms-eval",
        "split": split,
        "source": samples,
        "group": GROUP,
        "tasks": {f"{GROUP}_{t}": len(v) for t, v in sorted(docs.items())},
        "left_out": "streaming tasks (no one-question form)",
    }
    write_atomic(target / "export.yaml", yaml.safe_dump(about, sort_keys=False))
    return about
