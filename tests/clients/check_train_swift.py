"""Run inside the ms-swift client venv: train the tiny random-weight Qwen2-VL for a few steps
on an `ominous export --format swift` file with ms-swift's own trainer (`sft_main`, what
`swift sft` runs), on CPU.

usage: check_train_swift.py EXPORT_DIR OUT_DIR

Checked: every record's learned labels are its answers and the end token (as check_swift.py
checks them); the training loss is logged at every step and finite. The checkpoint (weights,
tokenizer, processor) is OUT_DIR/checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path

import check_swift
from tiny_qwen2vl import tiny_model


def main(export_dir: str, out_dir: str) -> int:
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    from swift.pipelines import sft_main

    check_swift.main(export_dir, "-", False)
    out = Path(out_dir)
    init = tiny_model(out / "init", max_pixels=None)
    result = sft_main(
        [
            "--model",
            str(init),
            "--model_type",
            "qwen2_vl",
            "--template",
            "qwen2_vl",
            "--use_hf",
            "true",
            "--tuner_type",
            "full",
            "--torch_dtype",
            "float32",
            "--dataset",
            str(Path(export_dir) / "mixture.jsonl"),
            "--split_dataset_ratio",
            "0",
            "--max_length",
            "8192",
            "--max_steps",
            "3",
            "--per_device_train_batch_size",
            "1",
            "--gradient_accumulation_steps",
            "1",
            "--learning_rate",
            "1e-3",
            "--logging_steps",
            "1",
            "--save_steps",
            "3",
            "--save_only_model",
            "true",
            "--report_to",
            "none",
            "--output_dir",
            str(out / "runs"),
            "--dataloader_num_workers",
            "0",
            "--dataset_num_proc",
            "1",
            "--check_model",
            "false",
        ]
    )  # no modelscope hub lookup
    saved = Path(result["last_model_checkpoint"])
    state = json.loads((saved / "trainer_state.json").read_text())
    losses = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses), losses
    shutil.copytree(saved, out / "checkpoint")
    print(f"swift: trained 3 steps, loss {' '.join(f'{x:.3f}' for x in losses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
