"""Run inside the LLaMA-Factory client venv: train the tiny random-weight Qwen2-VL for a few
steps on an `ominous export --format llamafactory` folder with LLaMA-Factory's own trainer
(`run_exp`, what `llamafactory-cli train` runs), on CPU.

usage: check_train_llamafactory.py EXPORT_DIR OUT_DIR

Checked: every record's learned labels are its answers and the end token (as
check_llamafactory.py checks them); the training loss is logged at every step and finite.
The checkpoint (weights, tokenizer, processor) is OUT_DIR/checkpoint.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import check_llamafactory
from tiny_qwen2vl import tiny_model


def main(export_dir: str, out_dir: str) -> int:
    from llamafactory.train.tuner import run_exp

    check_llamafactory.main(export_dir, "-", False)
    out = Path(out_dir)
    init = tiny_model(out / "init")
    ((name, _),) = json.loads((Path(export_dir) / "dataset_info.json").read_text()).items()
    checkpoint = out / "checkpoint"
    run_exp(
        {
            "model_name_or_path": str(init),
            "trust_remote_code": True,
            "stage": "sft",
            "do_train": True,
            "finetuning_type": "full",
            "template": "qwen2_vl",
            "dataset_dir": export_dir,
            "dataset": name,
            "cutoff_len": 8192,
            "overwrite_cache": True,
            "video_fps": 2.0,
            "video_maxlen": 16,
            "video_max_pixels": 56 * 56,
            "image_max_pixels": 56 * 56,
            "output_dir": str(checkpoint),
            "overwrite_output_dir": True,
            "per_device_train_batch_size": 1,
            "gradient_accumulation_steps": 1,
            "max_steps": 3,
            "learning_rate": 1e-3,
            "logging_steps": 1,
            "save_strategy": "no",
            "report_to": "none",
            "use_cpu": True,
            "bf16": False,
            "plot_loss": False,
            "dataloader_num_workers": 0,
            "preprocessing_num_workers": None,
        }
    )
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    losses = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses), losses
    print(f"llamafactory: trained 3 steps, loss {' '.join(f'{x:.3f}' for x in losses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
