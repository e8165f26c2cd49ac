"""A 2-layer SaT model trained for seconds on synthetic text, so the real SaT code path runs.

The tokenizer is a SentencePiece-unigram model from `tokenizers`, wrapped as the fast
XLM-R tokenizer SaT expects; labels mark the token that ends each sentence, which is where
SaT reads its boundary probability (the token's last character).
"""

from __future__ import annotations

import random
from pathlib import Path

WORDS = (  # noqa: SIM905 - a word list reads better as text
    "the a we you they it this that our my his her to of in on with for and but then now "
    "first next today water oil soup garden wheel frame plant hole soil roots onion garlic "
    "pan knife table chair bike chain pedal towel cloth morning evening small big old new "
    "clean dark fresh slowly gently quickly add cut chop stir turn wipe dig cover need make "
    "take put hold open close look see show bring keep cook wash fill pour mix heat cool "
    "tomato pieces little simple every wall fence young red blue green long short warm is "
    "are was were be have has do does will can making going doing into onto over under by "
    "while when where what who how here there some all more most very just also so not no "
    "I'll we'll don't it's I you'll can't that's"
).split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 10))]
    if rng.random() < 0.2:
        words[rng.randrange(1, len(words))] += ","
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".....!?")


def _paragraph(rng: random.Random) -> tuple[str, list[int]]:
    sentences = [_sentence(rng) for _ in range(rng.randint(2, 6))]
    ends, pos = [], 0
    for s in sentences:
        pos += len(s)
        ends.append(pos)
        pos += 1
    return " ".join(sentences), ends


def build_tiny_sat(out: Path, steps: int = 600, seed: int = 0) -> Path:
    """Train and save the model and tokenizer into `out`; returns `out`."""
    import torch
    from tokenizers import SentencePieceUnigramTokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import XLMRobertaTokenizerFast
    from wtpsplit.configs import SubwordXLMConfig
    from wtpsplit.models import SubwordXLMForTokenClassification

    rng = random.Random(seed)
    torch.manual_seed(seed)
    # One thread and no dropout: the same bytes on every machine, so the tests do not flake.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    corpus = [_paragraph(rng)[0] for _ in range(2000)]
    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(
        corpus,
        vocab_size=400,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        unk_token="<unk>",
        show_progress=False,
    )
    inner = sp._tokenizer
    inner.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        special_tokens=[("<s>", inner.token_to_id("<s>")), ("</s>", inner.token_to_id("</s>"))],
    )
    tokenizer = XLMRobertaTokenizerFast(
        tokenizer_object=inner,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    config = SubwordXLMConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=514,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        type_vocab_size=1,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = SubwordXLMForTokenClassification(config)
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(2.0))
    model.train()
    for _ in range(steps):
        batch = [_paragraph(rng) for _ in range(16)]
        enc = tokenizer(
            [t for t, _ in batch],
            return_offsets_mapping=True,
            padding=True,
            truncation=True,
            max_length=256,
            return_tensors="pt",
        )
        labels = torch.zeros(enc["input_ids"].shape)
        for i, (_, ends) in enumerate(batch):
            for j, (_, end) in enumerate(enc["offset_mapping"][i].tolist()):
                if end in ends:
                    labels[i, j] = 1.0
        mask = enc["attention_mask"].bool()
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        loss = loss_fn(logits[..., 0][mask], labels[mask])
        optim.zero_grad()
        loss.backward()
        optim.step()
    model.eval()
    torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
