"""`ominous export --format eval` (prompts without answers, references apart), `ominous eval`
(score a model's predictions task by task) and `ominous eval compare` (runs side by side).

Prediction file: JSONL, one object a line, keyed by `sample_id`:
  - a grounding sample: {"sample_id": "...", "text": "the model's answer"};
  - a streaming sample: one line per response, {"sample_id": "...", "time": 6.5, "text": "..."}
    with `time` in seconds from the window's start (as the prompts give every time); a sample
    with no line stayed silent throughout.
A line that cannot be read is reported with its number and left out; the rest is scored.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.core import evaluation
from pipeline.core.evaluation import Response
from pipeline.core.exporters import Context, ExportError, grounding_texts
from pipeline.errors import UsageError
from pipeline.io import publish
from pipeline.io.commit import check_published
from pipeline.io.parquet import read_table, table_files

EVAL_FILE = "eval.json"


class EvalError(UsageError):
    """Nothing can be scored as asked: no samples in the split, or no predictions file."""


def test_rows(samples: str, split: str) -> list[dict[str, Any]]:
    check_published(samples)  # a build killed while publishing: its rows are half there
    if not table_files(samples, "samples"):
        raise EvalError(f"no samples table in {samples}: run build first")
    rows = [r for r in read_table(samples, "samples").to_pylist() if r["split"] == split]
    if not rows:
        raise EvalError(f"no samples in split {split!r} of {samples}")
    return sorted(rows, key=lambda r: (r["task"], r["sample_id"]))


def _time(doc: dict[str, Any]) -> float | str | None:
    """The line's time in seconds, None when absent, or what is wrong with it."""
    when = doc.get("time")
    if when is None:
        return None
    if isinstance(when, bool) or not isinstance(when, int | float):
        return "time must be seconds (a number)"
    if not math.isfinite(when):
        return f"time must be a finite number of seconds, not {when}"
    return float(when)


def read_predictions(
    path: str, families: dict[str, str]
) -> tuple[dict[str, list[Response]], list[str]]:
    """Predictions by sample id, and one message per line that could not be used.

    `families`: sample id -> task family of the split. A streaming response needs a finite
    time; a grounding sample has one answer (a second is reported, the first is scored)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read predictions {path}: {exc}") from exc
    out: dict[str, list[Response]] = {}
    first_line: dict[str, int] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("sample_id"), str):
            problems.append(f"line {number}: needs a string sample_id")
            continue
        if not isinstance(doc.get("text", ""), str):
            problems.append(f"line {number}: text must be a string")
            continue
        when = _time(doc)
        if isinstance(when, str):
            problems.append(f"line {number}: {when}")
            continue
        sample = doc["sample_id"]
        if sample not in families:
            problems.append(f"line {number}: sample {sample!r} is not in the split")
            continue
        if families[sample] == "streaming" and when is None:
            problems.append(
                f"line {number}: sample {sample!r} is a streaming sample: its "
                "response needs a time (seconds)"
            )
            continue
        if families[sample] == "grounding" and sample in first_line:
            problems.append(
                f"line {number}: a second answer for grounding sample {sample!r}"
                f" (line {first_line[sample]} is the one scored)"
            )
            continue
        first_line.setdefault(sample, number)
        out.setdefault(sample, []).append(Response(doc.get("text", ""), when))
    return out, problems


@dataclass(frozen=True)
class EvalSummary:
    out: str
    overall: float
    tasks: dict[str, Any]
    problems: tuple[str, ...]
    grounding: dict[str, Any] | None = None
    buckets: dict[str, Any] = field(default_factory=dict)


def video_durations(samples: str, annotations: str | None) -> dict[str, int]:
    """video id -> duration (ms) from annotate's videos table: `annotations`, or the one the
    build recorded in SAMPLES/build.yaml when it is still there; {} when neither is."""
    if annotations is None:
        about = Path(samples) / "build.yaml"
        recorded = yaml.safe_load(about.read_text()).get("annotations") if about.is_file() else None
        if not recorded or not table_files(recorded, "videos"):
            return {}
        annotations = recorded
    elif not table_files(annotations, "videos"):
        raise EvalError(f"no videos table in {annotations}: pass annotate's OUT")
    from pipeline.export import newest_videos

    return {
        v: r["duration_ms"]
        for v, r in newest_videos(annotations).items()
        if r["duration_ms"] is not None
    }


def _new_output(out: str) -> Path:
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise EvalError(f"--out {out} is a file, not a folder")
    return target


def evaluate(
    samples: str,
    predictions: str,
    out: str,
    split: str = "test",
    name: str | None = None,
    reference: str = "clip",
    annotations: str | None = None,
    buckets: tuple[evaluation.Bucket, ...] = evaluation.VIDEO_MME_BUCKETS,
) -> EvalSummary:
    """Score a predictions file; `reference` says which timeline its times are on (`clip`:
    the window's, as the default eval prompts give them; `video`: the video's)."""
    target = _new_output(out)
    rows = test_rows(samples, split)
    got, problems = read_predictions(predictions, {r["sample_id"]: r["task_family"] for r in rows})
    durations = video_durations(samples, annotations)
    try:
        scored = evaluation.score(rows, got, reference, durations, buckets)
    except ValueError as exc:
        raise EvalError(str(exc)) from exc
    target.mkdir(parents=True, exist_ok=True)
    doc = {
        "name": name or target.name,
        "samples": samples,
        "predictions": predictions,
        "split": split,
        "time_reference": reference,
        "overall": scored["overall"],
        "grounding": scored["grounding"],
        "tasks": scored["tasks"],
        "buckets": scored["buckets"],
        "bucket_bounds_s": {b.name: [b.low_s, b.high_s] for b in buckets},
        "outside_buckets": scored.get("outside_buckets"),
        "problems": problems,
    }
    (target / EVAL_FILE).write_text(json.dumps(doc, indent=1, allow_nan=False))
    (target / "eval.md").write_text(_markdown([doc]))
    return EvalSummary(
        out,
        scored["overall"],
        scored["tasks"],
        tuple(problems),
        scored["grounding"],
        scored["buckets"],
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _bucket_names(docs: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for d in docs:
        names += [b for b in d.get("buckets") or {} if b not in names]
    return names


def _markdown(docs: list[dict[str, Any]]) -> str:
    tasks = sorted({t for d in docs for t in d["tasks"]})
    buckets = _bucket_names(docs)
    head = "| run | " + " | ".join(tasks) + " | overall | grounding |"
    lines = [head, "|" + "---|" * (len(tasks) + 3)]
    for d in docs:
        cells = [_pct(d["tasks"][t]["score"]) if t in d["tasks"] else "-" for t in tasks]
        g = d.get("grounding") or {}
        lines.append(
            f"| {d['name']} | "
            + " | ".join(cells)
            + f" | {_pct(d['overall'])} | {_pct(g.get(GROUNDING))} |"
        )
    if buckets:
        lines += [
            "",
            "| run | " + " | ".join(buckets) + " | overall |",
            "|" + "---|" * (len(buckets) + 2),
        ]
        for d in docs:
            got = d.get("buckets") or {}
            cells = [_pct((got.get(b) or {}).get("overall")) for b in buckets]
            lines.append(f"| {d['name']} | " + " | ".join(cells) + f" | {_pct(d['overall'])} |")
    notes = [
        "",
        "Scores x100. " + HEADLINES + " Buckets: the overall over the samples of "
        "videos of that duration (Video-MME's: short < 2 min, medium 4-15 min, long "
        "30-60 min, unless set otherwise); - where a run has none.",
    ]
    return "\n".join(lines + notes) + "\n"


GROUNDING = evaluation.GROUNDING_HEADLINE
HEADLINES = (
    "tsg tasks: R@1 at IoU 0.5 of text->span answers (mIoU and R@0.3/0.7 in "
    "eval.json); caption<->speech: SQuAD F1; silence, stop, noise, contrast: pass rate; "
    "rev: share answered within 1 s of the evidence; narration: share of cuts "
    "narrated within 2 s; overall: the mean of the task cells; grounding: R@1 at "
    "IoU 0.5 over the text->span samples of both tsg tasks."
)


def read_report(report: str) -> dict[str, Any]:
    """An eval.json (or its folder), checked for what tables read from it."""
    path = Path(report) / EVAL_FILE if Path(report).is_dir() else Path(report)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read eval report {path}: {exc}") from exc
    ok = (
        isinstance(doc, dict)
        and isinstance(doc.get("name"), str)
        and _number(doc.get("overall"))
        and isinstance(doc.get("tasks"), dict)
        and all(isinstance(v, dict) and _number(v.get("score")) for v in doc["tasks"].values())
        and isinstance(doc.get("grounding") or {}, dict)
        and isinstance(doc.get("buckets") or {}, dict)
    )
    if not ok:
        raise EvalError(
            f"{path} is not an eval report (ominous eval writes one): it needs a "
            "name, an overall number and tasks with a score each"
        )
    return doc


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compare(reports: list[str], out: str) -> Path:
    """The seed's kind of table: runs as rows, tasks and an overall as columns (MD and PNG)."""
    target = _new_output(out)  # before reading anything: a usage error first
    docs = [read_report(r) for r in reports]
    target.mkdir(parents=True, exist_ok=True)
    (target / "compare.md").write_text(_markdown(docs))
    tasks = [*sorted({t for d in docs for t in d["tasks"]}), "overall"]

    def cell(doc: dict[str, Any], task: str) -> float | None:
        if task == "overall":
            return doc["overall"]
        return doc["tasks"][task]["score"] if task in doc["tasks"] else None

    png = target / "compare.png"
    heatmap([d["name"] for d in docs], tasks, [[cell(d, t) for t in tasks] for d in docs], png)
    return png


def heatmap(
    rows: list[str],
    columns: list[str],
    values: list[list[float | None]],
    png: Path,
    title: str | None = None,
) -> None:
    """A table of scores (0..1, None: no value) as a coloured grid with the numbers x100."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = [[float("nan") if v is None else 100 * v for v in row] for row in values]
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * len(columns), 2.0 + 0.45 * len(rows)))
    ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=40, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            ax.text(
                j,
                i,
                "-" if math.isnan(v) else f"{v:.1f}",
                ha="center",
                va="center",
                color="white" if math.isnan(v) or v < 60 else "black",
                fontsize=8,
            )
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def _seconds(ms: int, origin: int) -> float:
    return round((ms - origin) / 1000, 3)


def prompt_and_reference(
    row: dict[str, Any], media: str, reference: str = "clip", duration_ms: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a model runner gets (no answers), and what eval compares its answers with.

    `clip`: the runner shows the window (`video_start`..`video_end`) and every time counts
    from its start. `video`: the runner shows the whole video and times are on its timeline
    (as llava/llamafactory-trained models learn them); grounding questions are rendered again
    for that origin. Every reference has one shape, `target`: a list of
    {time, kind, text, span} (time null for a grounding answer, span null where none)."""
    window = [row["clip_start_ms"] / 1000, row["clip_end_ms"] / 1000]
    if reference == "video" and duration_ms is None:
        raise ExportError(
            f"video {row['video_id']}: its duration is unknown; "
            "--time-reference video needs --annotations"
        )
    origin = row["clip_start_ms"] if reference == "clip" else 0
    shown = window if reference == "clip" else [0.0, duration_ms / 1000]
    base = {
        "sample_id": row["sample_id"],
        "task": row["task"],
        "video": media,
        "video_start": shown[0],
        "video_end": shown[1],
        "window": window,
        "time_reference": reference,
        "frame_fps_num": row["sample_fps_num"],
        "frame_fps_den": row["sample_fps_den"],
    }
    said = [t for t in row["turns"] if t["kind"] != "frames"]
    if row["task_family"] == "grounding":
        question = next(t for t in said if t["role"] == "user")["text"]
        answer = next(t for t in said if t["role"] == "assistant")["text"]
        g = row["grounding"]
        if reference == "video":
            question, answer = grounding_texts(row, Context(media, "video", 3, duration_ms))
        span = (
            [_seconds(g["span_start_ms"], origin), _seconds(g["span_end_ms"], origin)]
            if "text-to-span" in g["template_id"]
            else None
        )
        return (
            {**base, "mode": "chat", "messages": [{"role": "user", "content": question}]},
            {**base, "target": [{"time": None, "kind": "answer", "text": answer, "span": span}]},
        )
    stream = [
        {"time": _seconds(t["start_ms"], origin), "content": t["text"]}
        for t in said
        if t["role"] == "user"
    ]
    targets = [
        {
            "time": _seconds(t["start_ms"], origin),
            "kind": t["kind"],
            "text": t["text"] if t["target_override"] is None else "",
            "span": None,
        }
        for t in said
        if t["role"] == "assistant"
    ]
    return ({**base, "mode": "stream", "stream": stream}, {**base, "target": targets})


def export_eval(
    samples: str,
    out: str,
    split: str = "test",
    annotations: str | None = None,
    video_root: str | None = None,
    reference: str = "clip",
) -> dict[str, Any]:
    """eval_prompts.jsonl and eval_references.jsonl for a split of a samples table."""
    from pipeline.export import check_media_exist, resolve_videos

    if reference not in evaluation.TIME_REFERENCES:
        raise ExportError(f"time reference must be one of {evaluation.TIME_REFERENCES}")
    try:
        target = _new_output(out)
        rows = test_rows(samples, split)
    except EvalError as exc:
        raise ExportError(str(exc)) from exc
    videos = resolve_videos(annotations, video_root, {r["video_id"] for r in rows})
    check_media_exist(videos)
    prompts, references = [], []
    for row in rows:
        facts = videos[row["video_id"]]
        p, r = prompt_and_reference(row, facts.media, reference, facts.duration_ms)
        prompts.append(json.dumps(p, ensure_ascii=False))
        references.append(json.dumps(r, ensure_ascii=False))
    about = {
        "format": "eval",
        "split": split,
        "samples": len(rows),
        "source": samples,
        "time_reference": reference,
        "files": [PROMPTS, REFERENCES],
    }
    files = {
        PROMPTS: "\n".join(prompts) + "\n",
        REFERENCES: "\n".join(references) + "\n",
        "export.yaml": yaml.safe_dump(about, sort_keys=False),
    }
    with publish.folder_lock(target, "export"):  # the three files as one unit
        publish.publish(target, {n: publish.write_staged(target, n, t) for n, t in files.items()})
    return about


PROMPTS = "eval_prompts.jsonl"
REFERENCES = "eval_references.jsonl"


def write_atomic(path: Path, text: str) -> None:
    """Write beside, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
