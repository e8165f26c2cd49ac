"""Run inside the LLaMA-Factory client venv: load an `ominous export --format llamafactory`
folder with LLaMA-Factory's own `get_dataset` (qwen2_vl template) and check every record.

usage: check_llamafactory.py EXPORT_DIR GOLDEN_DIR [--update]

Checked: no record is dropped; each video row carries video tokens (the video reaches the
model); the learned spans are exactly each answer and the end token the template adds
(an empty answer learns the end token alone; noise learns the ids of `<|im_start|>` and
`<|im_end|>`, not their characters); the layout per task matches the golden file.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from tiny_qwen2vl import NOISE, check_layouts, check_noise_ids, learned_spans, tiny_processor


def main(export_dir: str, golden_dir: str, update: bool) -> int:
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    ((name, info),) = json.loads((Path(export_dir) / "dataset_info.json").read_text()).items()
    records = json.loads((Path(export_dir) / info["file_name"]).read_text())
    tokenizer, processor = tiny_processor()
    data_args = DataArguments(
        template="qwen2_vl",
        dataset=name,
        dataset_dir=export_dir,
        cutoff_len=1_000_000,
        overwrite_cache=True,
    )
    model_args = ModelArguments(model_name_or_path="tiny-qwen2-vl")
    with tempfile.TemporaryDirectory() as tmp:
        training_args = Seq2SeqTrainingArguments(output_dir=tmp, report_to=[])
        template = get_template_and_fix_tokenizer(tokenizer, data_args)
        dataset = get_dataset(
            template, model_args, data_args, training_args, "sft", tokenizer, processor
        )["train_dataset"]
    assert len(dataset) == len(records), f"{len(records) - len(dataset)} records dropped"
    video_pad = tokenizer.convert_tokens_to_ids("<|video_pad|>")
    image_pad = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    layouts: dict[str, str] = {}
    for rec, example in zip(records, dataset, strict=True):
        ids = example["input_ids"]
        assert (video_pad in ids) == bool(rec.get("videos")), rec.get("id")
        assert (image_pad in ids) == bool(rec.get("images")), rec.get("id")
        answers = [t["value"] for t in rec["conversations"] if t["from"] == "gpt"]
        assert not any("<|im_" in a for a in answers if a != NOISE), rec.get("id")
        spans = learned_spans(tokenizer, example["labels"])
        assert spans == [a + "<|im_end|>\n" for a in answers], (rec.get("id"), spans)
        check_noise_ids(tokenizer, example["labels"], answers, "\n")
        task = rec.get("task", "replay")
        layouts.setdefault(task, "\n".join(f"learn\t{s!r}" for s in spans))
    check_layouts(layouts, golden_dir, update)
    print(f"llamafactory: {len(dataset)} records loaded, {len(layouts)} layouts checked")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], "--update" in sys.argv[3:]))
