"""TranscribeSpeech against a bare whisperx call on the same audio and settings.

Prints the stage's wall time per video over the bare `whisperx.load_audio` +
`pipeline.transcribe` time (goal: <= 1.10) and the realtime factor. Both use the same loaded
model (models load once per worker, so loading is left out of both); each is the median of
several runs after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

from measure import median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--align-model", default="none")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--model",
        default="auto",
        help="on a GPU: large-v3 with --device cuda, for the cost estimate",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does the bench work")
    args = parser.parse_args()
    if args.smoke:
        args.repeats = 1
    copies = 1 if args.smoke else 4

    import whisperx

    from pipeline import synthetic
    from pipeline.io.media_store import sha256_file
    from pipeline.io.probe import probe
    from pipeline.models.whisper import AsrConfig, AsrHandler
    from pipeline.records import MediaFile, Source, Video
    from pipeline.stages.transcribe import _Transcribe

    with tempfile.TemporaryDirectory() as tmp:
        spec = synthetic.speaking_corpus()[0]
        long_spec = synthetic.Spec(
            "long",
            spec.scenes * copies,
            tuple(
                synthetic.Line(line.text, line.at_ms + k * 16000)
                for k in range(copies)
                for line in spec.lines
            ),
        )
        synthetic.make_video(long_spec, Path(tmp))
        path = str(Path(tmp) / "long.mp4")
        info = probe(path)
        video = Video(
            MediaFile(Source(path, "file"), "long", path), info, sha256_file(path), "train"
        )
        config = AsrConfig(
            model=args.model,
            align_model=args.align_model,
            device=args.device,
            batch_size=args.batch_size,
        )
        stage = _Transcribe(AsrHandler(config))
        stage.setup()
        asr = stage.model()

        def bare() -> None:
            audio = whisperx.load_audio(path)
            asr.pipeline.transcribe(
                audio,
                batch_size=config.batch_size,
                chunk_size=config.chunk_size,
                language=config.language,
            )

        def staged() -> None:
            list(stage.process(video))

        t_bare = median_time(bare, args.repeats)
        t_stage = median_time(staged, args.repeats)
    audio_s = info.duration_ms / 1000
    print(
        f"audio {audio_s:.1f} s, model {asr.model_name}, word timing {asr.word_timing}, "
        f"{config.device}/{config.resolved_compute_type}, batch {config.batch_size}"
    )
    print(f"bare whisperx (load_audio + transcribe): {t_bare:.3f} s  RTF {t_bare / audio_s:.3f}")
    print(f"TranscribeSpeech stage (with word times): {t_stage:.3f} s  RTF {t_stage / audio_s:.3f}")
    print(f"ratio stage / bare: {t_stage / t_bare:.2f} (goal <= 1.10)")


if __name__ == "__main__":
    main()
