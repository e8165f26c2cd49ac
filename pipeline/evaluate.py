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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.core import evaluation
from pipeline.core.evaluation import Response
from pipeline.core.exporters import ExportError
from pipeline.errors import UsageError
from pipeline.io.parquet import read_table, table_files

EVAL_FILE = "eval.json"


class EvalError(UsageError):
    """Nothing can be scored as asked: no samples in the split, or no predictions file."""


def test_rows(samples: str, split: str) -> list[dict[str, Any]]:
    if not table_files(samples, "samples"):
        raise EvalError(f"no samples table in {samples}: run build first")
    rows = [r for r in read_table(samples, "samples").to_pylist() if r["split"] == split]
    if not rows:
        raise EvalError(f"no samples in split {split!r} of {samples}")
    return sorted(rows, key=lambda r: (r["task"], r["sample_id"]))


def read_predictions(path: str, known: set[str]) -> tuple[dict[str, list[Response]], list[str]]:
    """Predictions by sample id, and one message per line that could not be used."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read predictions {path}: {exc}") from exc
    out: dict[str, list[Response]] = {}
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
        when = doc.get("time")
        if when is not None and (isinstance(when, bool) or not isinstance(when, int | float)):
            problems.append(f"line {number}: time must be seconds (a number)")
            continue
        if doc["sample_id"] not in known:
            problems.append(f"line {number}: sample {doc['sample_id']!r} is not in the split")
            continue
        out.setdefault(doc["sample_id"], []).append(
            Response(doc.get("text", ""), float(when) if when is not None else None))
    return out, problems


@dataclass(frozen=True)
class EvalSummary:
    out: str
    overall: float
    tasks: dict[str, Any]
    problems: tuple[str, ...]


def evaluate(samples: str, predictions: str, out: str, split: str = "test",
             name: str | None = None) -> EvalSummary:
    rows = test_rows(samples, split)
    got, problems = read_predictions(predictions, {r["sample_id"] for r in rows})
    scored = evaluation.score(rows, got)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    doc = {"name": name or target.name, "samples": samples, "predictions": predictions,
           "split": split, "overall": scored["overall"], "tasks": scored["tasks"],
           "problems": problems}
    (target / EVAL_FILE).write_text(json.dumps(doc, indent=1))
    (target / "eval.md").write_text(_markdown([doc]))
    return EvalSummary(out, scored["overall"], scored["tasks"], tuple(problems))


def _markdown(docs: list[dict[str, Any]]) -> str:
    tasks = sorted({t for d in docs for t in d["tasks"]})
    head = "| run | " + " | ".join(tasks) + " | overall |"
    rule = "|" + "---|" * (len(tasks) + 2)
    lines = [head, rule]
    for d in docs:
        cells = [f"{100 * d['tasks'][t]['score']:.1f}" if t in d["tasks"] else "-"
                 for t in tasks]
        lines.append(f"| {d['name']} | " + " | ".join(cells) + f" | {100 * d['overall']:.1f} |")
    notes = ["", "Scores x100: tsg tasks mean IoU (text->span) and token F1 (span->text); "
             "caption<->speech token F1; silence, stop, noise, contrast pass rate; rev share "
             "answered within 1 s of the evidence; narration share of cuts narrated within 2 s."]
    return "\n".join(lines + notes) + "\n"


def compare(reports: list[str], out: str) -> Path:
    """The seed's kind of table: runs as rows, tasks and an overall as columns (MD and PNG)."""
    docs = []
    for report in reports:
        path = Path(report) / EVAL_FILE if Path(report).is_dir() else Path(report)
        try:
            docs.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise EvalError(f"cannot read eval report {path}: {exc}") from exc
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    (target / "compare.md").write_text(_markdown(docs))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [*sorted({t for d in docs for t in d["tasks"]}), "overall"]

    def cell(doc: dict[str, Any], task: str) -> float:
        if task == "overall":
            return 100 * doc["overall"]
        return 100 * doc["tasks"][task]["score"] if task in doc["tasks"] else 0.0

    values = [[cell(d, t) for t in tasks] for d in docs]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(tasks), 2.0 + 0.45 * len(docs)))
    ax.imshow(values, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(tasks)), tasks, rotation=40, ha="right")
    ax.set_yticks(range(len(docs)), [d["name"] for d in docs])
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center",
                    color="white" if v < 60 else "black", fontsize=8)
    fig.tight_layout()
    png = target / "compare.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def _turn_time(row: dict[str, Any], ms: int) -> float:
    return round((ms - row["clip_start_ms"]) / 1000, 3)


def prompt_and_reference(row: dict[str, Any], media: str) -> tuple[dict[str, Any],
                                                                    dict[str, Any]]:
    """What a model runner gets (no answers), and what eval compares its answers with."""
    window = [row["clip_start_ms"] / 1000, row["clip_end_ms"] / 1000]
    base = {"sample_id": row["sample_id"], "task": row["task"], "video": media,
            "video_start": window[0], "video_end": window[1], "time_reference": "clip"}
    said = [t for t in row["turns"] if t["kind"] != "frames"]
    if row["task_family"] == "grounding":
        question = next(t for t in said if t["role"] == "user")
        answer = next(t for t in said if t["role"] == "assistant")
        ref: dict[str, Any] = {"text": answer["text"]}
        g = row["grounding"]
        if "text-to-span" in g["template_id"]:
            ref["span"] = [_turn_time(row, g["span_start_ms"]), _turn_time(row, g["span_end_ms"])]
        return ({**base, "mode": "chat", "messages": [
                    {"role": "user", "content": question["text"]}]},
                {**base, "target": ref})
    stream = [{"time": _turn_time(row, t["start_ms"]), "content": t["text"]}
              for t in said if t["role"] == "user"]
    targets = [{"time": _turn_time(row, t["start_ms"]), "kind": t["kind"],
                "text": t["text"] if t["target_override"] is None else ""}
               for t in said if t["role"] == "assistant"]
    return ({**base, "mode": "stream", "stream": stream}, {**base, "target": targets})


def export_eval(samples: str, out: str, split: str = "test", annotations: str | None = None,
                video_root: str | None = None) -> dict[str, Any]:
    """eval_prompts.jsonl and eval_references.jsonl for a split of a samples table."""
    from pipeline.export import check_media_exist, resolve_videos

    try:
        rows = test_rows(samples, split)
    except EvalError as exc:
        raise ExportError(str(exc)) from exc
    videos = resolve_videos(annotations, video_root, {r["video_id"] for r in rows})
    check_media_exist(videos)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    prompts, references = [], []
    for row in rows:
        p, r = prompt_and_reference(row, videos[row["video_id"]].media)
        prompts.append(json.dumps(p, ensure_ascii=False))
        references.append(json.dumps(r, ensure_ascii=False))
    (target / "eval_prompts.jsonl").write_text("\n".join(prompts) + "\n", encoding="utf-8")
    (target / "eval_references.jsonl").write_text("\n".join(references) + "\n",
                                                  encoding="utf-8")
    about = {"format": "eval", "split": split, "samples": len(rows), "source": samples,
             "files": ["eval_prompts.jsonl", "eval_references.jsonl"]}
    (target / "export.yaml").write_text(yaml.safe_dump(about, sort_keys=False))
    return about
