import pytest

from pipeline.core.sentences import (
    join_words,
    sentences_from_pieces,
    split_on_punctuation_and_pauses,
)
from pipeline.records import Word


def words(spec: str, gap_after: dict[int, int] | None = None) -> list[Word]:
    out, t = [], 0
    for i, text in enumerate(spec.split()):
        out.append(Word(text, t, t + 300, 0.9))
        t += 400 + (gap_after or {}).get(i, 0)
    return out


def test_sat_pieces_map_back_to_words_and_times() -> None:
    ws = words("Hello there. The cat sat. Bye")
    text, starts = join_words(ws)
    assert text == "Hello there. The cat sat. Bye" and starts[2] == len("Hello there. ")
    sents = sentences_from_pieces(ws, ["Hello there. ", "The cat sat. ", "Bye"])
    assert [s.text for s in sents] == ["Hello there.", "The cat sat.", "Bye"]
    assert (sents[1].start_ms, sents[1].end_ms) == (ws[2].start_ms, ws[4].end_ms)
    assert [s.index for s in sents] == [0, 1, 2]


def test_a_split_inside_a_word_moves_the_whole_word() -> None:
    ws = words("making soup now")
    sents = sentences_from_pieces(ws, ["maki", "ng soup ", "now"])
    assert [s.text for s in sents] == ["making", "soup", "now"]


def test_pieces_must_reassemble_the_text() -> None:
    with pytest.raises(ValueError, match="do not reassemble"):
        sentences_from_pieces(words("a b"), ["a", "c"])


def test_punctuation_splitter_keeps_abbreviations() -> None:
    sents = split_on_punctuation_and_pauses(words("Dr. Smith is here. Is he? Yes!"))
    assert [s.text for s in sents] == ["Dr. Smith is here.", "Is he?", "Yes!"]


def test_punctuation_splitter_splits_on_long_pauses_and_caps_length() -> None:
    sents = split_on_punctuation_and_pauses(words("one two three four", {1: 1500}))
    assert [s.text for s in sents] == ["one two", "three four"]
    capped = split_on_punctuation_and_pauses(words("a b c d e"), max_words=2)
    assert [len(s.words) for s in capped] == [2, 2, 1]


def test_no_words_no_sentences() -> None:
    assert split_on_punctuation_and_pauses([]) == ()
