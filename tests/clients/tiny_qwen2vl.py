"""A Qwen2-VL processor built here, with no hub: a byte-level tokenizer (every byte one token,
so decoding gives back exactly what was encoded) with Qwen2's special tokens, and the real
Qwen2-VL image and video processors. Runs inside a client venv (transformers of its own)."""

from __future__ import annotations

from pathlib import Path

SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")


def tiny_tokenizer():
    """The byte-level tokenizer alone (also used by the main venv's export tests)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    core = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(tokenizer_object=core, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None)
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIALS[1:])})
    return tokenizer


def tiny_processor():
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer = tiny_tokenizer()
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(), tokenizer=tokenizer,
                                 video_processor=Qwen2VLVideoProcessor())
    return tokenizer, processor


def learned_spans(tokenizer, labels: list[int], ignore: int = -100) -> list[str]:
    """The runs of learned tokens, decoded: what the loss is computed on, turn by turn."""
    return [tokenizer.decode(run) for run in learned_ids(labels, ignore)]


NOISE = "<|im_start|>"  # noise's answer: the begin-of-turn token, then the template's end


def learned_ids(labels: list[int], ignore: int = -100) -> list[list[int]]:
    """The runs of learned token ids, turn by turn."""
    runs, run = [], []
    for label in [*labels, ignore]:
        if label == ignore:
            if run:
                runs.append(run)
            run = []
        else:
            run.append(label)
    return runs


def check_noise_ids(tokenizer, labels: list[int], answers: list[str], tail: str = "") -> None:
    """Each noise answer is learned as the special ids, not as the marker's characters: one
    <|im_start|> id then one <|im_end|> id (and whatever the template adds after it)."""
    specials = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    after = tokenizer(tail, add_special_tokens=False)["input_ids"] if tail else []
    for answer, ids in zip(answers, learned_ids(labels), strict=True):
        if answer == NOISE:
            assert ids in (specials, specials + after), (ids, specials)


def check_layouts(layouts: dict[str, str], golden_dir: str, update: bool) -> None:
    """Each task's learned spans against its golden file (rewritten with --update)."""
    golden = Path(golden_dir)
    for task, text in sorted(layouts.items()):
        path = golden / f"{task}.txt"
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
        assert path.read_text(encoding="utf-8") == text + "\n", f"{path} differs:\n{text}"
