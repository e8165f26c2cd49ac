import itertools

import numpy as np

from pipeline.core.asr import (
    RawWord,
    audio_windows,
    merge_punctuation,
    shift_words,
    snap_onset,
    speech_ms,
    timeline_words,
)


def rw(text: str, start: float | None, end: float | None, seg: tuple = (0.0, 10.0)) -> RawWord:
    return RawWord(text, start, end, 0.9 if start is not None else None, *seg)


def test_words_move_onto_the_video_timeline() -> None:
    words = timeline_words([rw(" Hello", 1.0, 1.5), rw(" world.", 1.6, 2.0)], audio_offset_ms=400)
    assert [(w.text, w.start_ms, w.end_ms) for w in words] == [
        ("Hello", 1400, 1900),
        ("world.", 2000, 2400),
    ]
    assert not any(w.interpolated for w in words)


def test_unaligned_words_are_interpolated_between_neighbours() -> None:
    words = timeline_words(
        [rw("at", 1.0, 1.2), rw("1999", None, None), rw("we", 2.0, 2.2)], audio_offset_ms=0
    )
    mid = words[1]
    assert mid.interpolated and mid.score is None
    assert 1200 <= mid.start_ms < mid.end_ms <= 2000


def test_unaligned_word_at_segment_edges_uses_segment_bounds() -> None:
    words = timeline_words([rw("42", None, None, (3.0, 4.0)), rw("go", 3.5, 3.8, (3.0, 4.0))], 0)
    assert words[0].start_ms == 3000 and words[0].end_ms == 3500


def test_punctuation_tokens_join_their_words() -> None:
    merged = merge_punctuation(
        [
            rw(" mat", 1.0, 1.2),
            rw(".", 1.2, 1.4),
            rw(' "', 1.5, 1.5),
            rw("Yes", 1.6, 1.8),
            rw("!", 1.8, 1.9),
        ]
    )
    assert [w.text for w in merged] == ["mat.", '"Yes!']
    assert merged[0].end_s == 1.2


def test_times_never_go_backwards() -> None:
    words = timeline_words([rw("a", 2.0, 2.5), rw("b", 1.0, 1.2)], 0)
    assert words[1].start_ms >= words[0].start_ms


def test_snap_onset_finds_where_sound_starts() -> None:
    sr = 16000
    audio = np.zeros(sr * 2, dtype=np.float32)
    audio[int(0.6 * sr) : int(1.2 * sr)] = 0.5 * np.sin(np.arange(int(0.6 * sr)) / 5)
    assert abs(snap_onset(audio, sr, 0.0, 1.0) - 0.6) <= 0.011
    assert snap_onset(np.zeros(sr, dtype=np.float32), sr, 0.1, 0.5) == 0.1


def test_speech_ms_sums_segments() -> None:
    assert speech_ms([(0.0, 1.5), (2.0, 2.25)]) == 1750


def _bursts(sr: int, seconds: int, quiet_at: list[float]) -> np.ndarray:
    """Loud noise everywhere except 300 ms pauses centred at `quiet_at`."""
    rng = np.random.default_rng(0)
    audio = rng.uniform(-0.5, 0.5, sr * seconds).astype(np.float32)
    for t in quiet_at:
        audio[int((t - 0.15) * sr) : int((t + 0.15) * sr)] = 0.0
    return audio


def test_audio_windows_cut_in_the_pauses_near_each_nominal_cut() -> None:
    sr = 1000
    audio = _bursts(sr, 100, [27.0, 58.0, 88.5])
    windows = audio_windows(audio, sr, window_s=30, search_s=5)
    assert windows[0][0] == 0 and windows[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    # nominal cuts at 30, then 27 + 30 = 57, then 58 + 30 = 88: each moves to its pause
    cuts = [b / sr for _, b in windows[:-1]]
    assert len(cuts) == 3
    assert all(abs(c - t) < 0.15 for c, t in zip(cuts, [27.0, 58.0, 88.5], strict=True)), cuts
    assert audio_windows(audio, sr, window_s=200) == [(0, len(audio))]


def test_shifted_words_keep_missing_times_missing() -> None:
    words = [RawWord("hi", 0.5, 0.9, 0.8, 0.0, 2.0), RawWord("there", None, None, None, 0.0, 2.0)]
    moved = shift_words(words, 600.0)
    assert (moved[0].start_s, moved[0].end_s, moved[0].segment_start_s) == (600.5, 600.9, 600.0)
    assert moved[1].start_s is None and moved[1].segment_end_s == 602.0
