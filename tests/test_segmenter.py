from pathlib import Path

import pytest

from pipeline.models import ModelLoadError
from pipeline.models.segmenter import FALLBACK, SegmenterConfig, SentenceSegmenter
from pipeline.records import Word

SCRIPT = (
    "Today we are making a simple tomato soup. First, chop the onion into small pieces. "
    "Next we add the garlic and stir it gently"
)


def timed(text: str) -> list[Word]:
    return [Word(t, i * 400, i * 400 + 300, 0.9) for i, t in enumerate(text.split())]


def test_tiny_sat_splits_real_sentences_with_word_times(tiny_sat: Path) -> None:
    seg = SentenceSegmenter(SegmenterConfig(model=str(tiny_sat), threshold=0.5))
    assert seg.name == "sat:tiny-sat"
    # No punctuation-free pause cue here: the words are evenly spaced.
    sents = seg.segment(timed(SCRIPT))
    assert [s.text for s in sents] == [
        "Today we are making a simple tomato soup.",
        "First, chop the onion into small pieces.",
        "Next we add the garlic and stir it gently",
    ]
    assert sents[1].start_ms == 8 * 400 and sents[1].end_ms == 14 * 400 + 300


def test_auto_falls_back_offline_and_says_so() -> None:
    seg = SentenceSegmenter(SegmenterConfig(model="auto"))
    assert seg.name == FALLBACK
    assert len(seg.segment(timed(SCRIPT))) == 3


def test_a_named_model_that_cannot_load_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        SentenceSegmenter(SegmenterConfig(model=str(tmp_path)))
