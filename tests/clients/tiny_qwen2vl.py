"""A Qwen2-VL processor built here, with no hub: a byte-level tokenizer (every byte one token,
so decoding gives back exactly what was encoded) with Qwen2's special tokens, and the real
Qwen2-VL image and video processors. Runs inside a client venv (transformers of its own)."""

from __future__ import annotations

from pathlib import Path

SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")


def tiny_processor():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast, Qwen2VLImageProcessor, Qwen2VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    core = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(tokenizer_object=core, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None)
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIALS[1:])})
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(), tokenizer=tokenizer,
                                 video_processor=Qwen2VLVideoProcessor())
    return tokenizer, processor


def learned_spans(tokenizer, labels: list[int], ignore: int = -100) -> list[str]:
    """The runs of learned tokens, decoded: what the loss is computed on, turn by turn."""
    spans, run = [], []
    for label in [*labels, ignore]:
        if label == ignore:
            if run:
                spans.append(tokenizer.decode(run))
            run = []
        else:
            run.append(label)
    return spans


def check_layouts(layouts: dict[str, str], golden_dir: str, update: bool) -> None:
    """Each task's learned spans against its golden file (rewritten with --update)."""
    golden = Path(golden_dir)
    for task, text in sorted(layouts.items()):
        path = golden / f"{task}.txt"
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
        assert path.read_text(encoding="utf-8") == text + "\n", f"{path} differs:\n{text}"
