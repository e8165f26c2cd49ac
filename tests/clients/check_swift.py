"""Run inside the ms-swift client venv: load an `ominous export --format swift` file with
ms-swift's own `load_dataset` and encode every record with its qwen2_vl template.

usage: check_swift.py EXPORT_DIR GOLDEN_DIR [--update]

The processor is a tiny Qwen2-VL one saved to a folder and loaded back through swift's
`get_model_processor` (no weights, no hub). Checked: every record loads and encodes; each
video row carries video tokens; a sample's window reaches the template (`video_start`/
`video_end`), so its frames come from the window, not from the whole video; the learned spans
are exactly each answer and the end token (noise: the ids of `<|im_start|>` and `<|im_end|>`);
the layout per task matches the golden file.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from tiny_qwen2vl import NOISE, check_layouts, check_noise_ids, learned_spans, tiny_processor


def _model_dir(root: Path) -> str:
    from transformers import Qwen2VLConfig

    tokenizer, processor = tiny_processor()
    processor.save_pretrained(root)
    tokenizer.save_pretrained(root)
    config = Qwen2VLConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        vision_config={"depth": 1, "embed_dim": 32, "num_heads": 2, "hidden_size": 32},
    )
    config.architectures = ["Qwen2VLForConditionalGeneration"]
    config.save_pretrained(root)
    return str(root)


def main(export_dir: str, golden_dir: str, update: bool) -> int:
    from swift.dataset import load_dataset
    from swift.model import get_model_processor
    from swift.template import get_template

    data = Path(export_dir) / "mixture.jsonl"
    records = [json.loads(x) for x in data.read_text().splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        _, processor = get_model_processor(
            _model_dir(Path(tmp)), load_model=False, model_type="qwen2_vl", use_hf=True
        )
        template = get_template(processor, template_type="qwen2_vl", max_length=1_000_000)
        template.set_mode("train")
        train, _ = load_dataset([str(data)], use_hf=True, remove_unused_columns=False)
        assert len(train) == len(records), f"{len(records) - len(train)} records dropped"
        tokenizer = processor.tokenizer
        video_pad = tokenizer.convert_tokens_to_ids("<|video_pad|>")
        layouts: dict[str, str] = {}
        whole: dict[str, int] = {}
        shrunk = 0  # windowed records that got fewer frames than their whole video
        for rec, row in zip(records, train, strict=True):
            encoded = template.encode(row)
            ids = encoded["input_ids"]
            pads = ids.count(video_pad)
            assert (pads > 0) == bool(rec.get("videos")), rec.get("id")
            answers = [m["content"] for m in rec["messages"] if m["role"] == "assistant"]
            assert not any("<|im_" in a for a in answers if a != NOISE), rec.get("id")
            spans = learned_spans(tokenizer, encoded["labels"])
            assert spans == [a + "<|im_end|>" for a in answers] or spans == [
                a + "<|im_end|>\n" for a in answers
            ], (rec.get("id"), spans)
            check_noise_ids(tokenizer, encoded["labels"], answers, "\n")
            if "chat_template_kwargs" in rec:
                grid = encoded["video_grid_thw"].tolist()[0]
                video = rec["videos"][0]
                if video not in whole:  # the same video with no window: all its frames
                    plain = template.encode(
                        {k: v for k, v in row.items() if k != "chat_template_kwargs"}
                    )
                    whole[video] = plain["video_grid_thw"].tolist()[0][0]
                assert grid[0] <= whole[video], (rec["id"], grid, whole[video])
                shrunk += grid[0] < whole[video]
            task = rec.get("task", "replay")
            layouts.setdefault(task, "\n".join(f"learn\t{s!r}" for s in spans))
    assert shrunk, "no window reached the template: every record saw its whole video"
    check_layouts(layouts, golden_dir, update)
    print(f"swift: {len(train)} records loaded and encoded, {len(layouts)} layouts checked")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], "--update" in sys.argv[3:]))
