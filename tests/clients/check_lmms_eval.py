"""Run inside the lmms-eval client venv: load an `ominous export --format lmms-eval` folder
with lmms-eval's own TaskManager and check every task and document.

usage: check_lmms_eval.py TASK_DIR EXPECTED_JSON

EXPECTED_JSON maps each task name to {"docs": n, "windows": {sample_id: [start, end]}}.
Checked: the `ominous` group and its tasks load; each task holds the expected number of
documents; each document's visual is a video file as long as the sample's window (its first
frame the source's frame at the window's start); the references themselves score 100 with
the task's own process_results and aggregation.
"""

from __future__ import annotations

import json
import sys


def _frame(path: str, at_s: float):
    import decord

    reader = decord.VideoReader(path)
    stamps = reader.get_frame_timestamp(range(len(reader)))
    index = max(i for i, (start, _) in enumerate(stamps) if start <= at_s + 1e-3)
    return reader[index].asnumpy().astype(int), float(stamps[-1][1])


def main(task_dir: str, expected: str) -> int:
    from lmms_eval.tasks import TaskManager, get_task_dict

    want = json.loads(expected)
    manager = TaskManager(include_path=task_dir)
    assert "ominous" in manager.all_groups or "ominous" in manager.all_tasks, "no ominous group"
    tasks = get_task_dict(["ominous"], manager)
    flat = {}
    for key, value in tasks.items():  # the group maps to its tasks
        if isinstance(value, dict):
            flat.update({getattr(k, "group_name", k): v for k, v in value.items()})
        else:
            flat[key] = value
    assert set(flat) == set(want), (sorted(flat), sorted(want))
    for name, task in flat.items():
        docs = list(task.test_docs())
        assert len(docs) == want[name]["docs"], (name, len(docs))
        results = []
        for doc in docs:
            (visual,) = task.doc_to_visual(doc)
            start, end = want[name]["windows"][doc["sample_id"]]
            clip, clip_end = _frame(visual, 0.0)
            source, _ = _frame(doc["video"], start)
            assert abs(clip_end - (end - start)) < 0.25, (visual, clip_end, end - start)
            assert abs(clip - source).mean() < 12, (visual, abs(clip - source).mean())
            assert doc["question"] in task.doc_to_text(doc)
            results.append(task.process_results(doc, [doc["answer"]])["ominous_score"])
        (metric,) = task.aggregation().items()
        score = metric[1](results)
        assert abs(score - 100.0) < 1e-9, (name, score)
    print(
        f"lmms-eval: {len(flat)} tasks, {sum(w['docs'] for w in want.values())} documents; "
        "references score 100"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
