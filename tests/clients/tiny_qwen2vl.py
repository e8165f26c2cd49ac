"""A Qwen2-VL processor built here, with no hub: a byte-level tokenizer (every byte one token,
so decoding gives back exactly what was encoded) with Qwen2's special tokens at Qwen2's own ids
(151643 on: ms-swift's Qwen2-VL template looks the vision tokens up by those numbers), and
the real Qwen2-VL image and video processors. Runs in a client venv (transformers of its own)
and in the main one."""

from __future__ import annotations

from pathlib import Path

# Qwen2's added tokens, in id order from FIRST_SPECIAL_ID
SPECIALS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
FIRST_SPECIAL_ID = 151643


def tiny_tokenizer():
    """The byte-level tokenizer alone (also used by the main venv's export tests). Ids 256
    to 151642 are placeholders no text encodes to."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab.update({f"<unused_{i}>": i for i in range(len(vocab), FIRST_SPECIAL_ID)})
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIALS[1:])})
    assert tokenizer.convert_tokens_to_ids("<|video_pad|>") == FIRST_SPECIAL_ID + 13
    return tokenizer


def tiny_processor(max_pixels: int | None = None):
    """The tokenizer and a Qwen2-VL processor; `max_pixels` caps each image and video frame
    (a tiny model needs few vision tokens)."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer = tiny_tokenizer()
    size = {"min_pixels": max_pixels, "max_pixels": max_pixels} if max_pixels else {}
    video = (
        {"size": {"shortest_edge": max_pixels, "longest_edge": max_pixels}} if max_pixels else {}
    )
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(**size),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(**video),
    )
    return tokenizer, processor


def tiny_model(folder: Path, silent: bool = False, max_pixels: int | None = 56 * 56) -> Path:
    """A random-weight Qwen2-VL (2 layers, hidden 64, vision depth 1; Qwen2's vocabulary
    size) with the tiny processor, saved as a Hugging Face checkpoint (no hub). Greedy, it
    answers every streaming step; `silent`: the end token's output row is lifted along the
    hidden state a streaming probe ends in, so it answers none. `max_pixels`: the
    processor's cap per frame (None: Qwen2-VL's defaults, which ms-swift's frame sizing
    expects)."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    tokenizer, processor = tiny_processor(max_pixels=max_pixels)
    names = [
        "<|im_start|>",
        "<|im_end|>",
        "<|vision_start|>",
        "<|vision_end|>",
        "<|image_pad|>",
        "<|video_pad|>",
    ]
    ids = dict(zip(names, tokenizer.convert_tokens_to_ids(names), strict=True))
    config = Qwen2VLConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32768,
        rope_scaling={"type": "mrope", "mrope_section": [4, 6, 6]},
        vision_config={
            "depth": 1,
            "embed_dim": 32,
            "num_heads": 2,
            "hidden_size": 64,
            "mlp_ratio": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        eos_token_id=ids["<|im_end|>"],
        bos_token_id=ids["<|im_start|>"],
        pad_token_id=tokenizer.pad_token_id,
    )
    config.architectures = ["Qwen2VLForConditionalGeneration"]
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(config).eval()
    if silent:
        probe = tokenizer(
            "Time=1s hello\n<|im_end|>\n<|im_start|>assistant\n", return_tensors="pt"
        )["input_ids"]
        with torch.no_grad():
            last = model.model(input_ids=probe).last_hidden_state[0, -1]
            model.lm_head.weight[ids["<|im_end|>"]] += 50 * last / (last @ last)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


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
    """Each task's learned spans against its golden file (rewritten with --update); a
    golden_dir of "-" checks none (mixtures drawn elsewhere have other first records)."""
    if golden_dir == "-":
        return
    golden = Path(golden_dir)
    for task, text in sorted(layouts.items()):
        path = golden / f"{task}.txt"
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
        assert path.read_text(encoding="utf-8") == text + "\n", f"{path} differs:\n{text}"
