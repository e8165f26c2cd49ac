"""Task builders: one video's sentences and clips -> grounding and streaming samples.

Plain functions of (video, config), deterministic for a seed: every random choice comes from a
generator seeded by (seed, video, task). Rows keep numbers and text apart; the rendered text
in turns comes from pipeline.core.templates.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from pipeline.core import templates as T
from pipeline.core.quality import flags_for, repeats_prompt, verbatim_overlap
from pipeline.core.settings import Flag, setting
from pipeline.core.task_facts import tasks_where
from pipeline.core.timegrid import FRAME_SNAP, FrameGrid

GROUNDING_TASKS = tasks_where("family", "grounding")
STREAMING_TASKS = tasks_where("family", "streaming")
TASKS = GROUNDING_TASKS + STREAMING_TASKS
DRY_RUN_MODEL = "dry-run"


@dataclass(frozen=True)
class SentenceInfo:
    sentence_id: str
    start_ms: int
    end_ms: int
    text: str
    interpolated_fraction: float = 0.0


@dataclass(frozen=True)
class ClipInfo:
    clip_id: str
    start_ms: int
    end_ms: int
    scene_boundary: bool
    caption: str | None
    caption_model: str | None = None
    motion: float | None = None  # curation signals: see curation.still_window
    frame_hash: int | None = None


@dataclass(frozen=True)
class VideoInfo:
    video_id: str
    duration_ms: int
    split: str
    sentences: tuple[SentenceInfo, ...] = ()
    clips: tuple[ClipInfo, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)
    # curation: spans that are speech though no sentence is kept there (silence avoids them),
    # and tasks a signal poisoned (task -> reason), which the builder does not make
    speech_spans: tuple[tuple[int, int], ...] = ()
    blocked_tasks: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class BuildConfig:
    """How samples are made from annotations; every field enters build's config hash."""

    seed: int = setting(0, flag=Flag("seed"))
    sample_fps: Fraction = setting(  # noqa: RUF009 (a Fraction is immutable)
        Fraction(2),
        flag=Flag(  # the option stays a string: Beam serialises options, not Fractions
            "sample-fps",
            "frame grid of streaming samples, a number or a ratio like 30000/1001",
            type=str,
            parse=Fraction,
            default="2",
        ),
    )
    timestamp_style: str = setting(
        "seconds", flag=Flag("timestamp-style", choices=T.TIMESTAMP_STYLES)
    )
    window_ms: int = setting(60_000, flag=Flag("window-ms"))
    min_clip_ms: int = setting(
        1000, flag=Flag("sample-min-clip-ms", "clips shorter than this are flagged")
    )
    max_clip_ms: int = setting(
        60_000, flag=Flag("sample-max-clip-ms", "clips longer than this are flagged")
    )
    max_unaligned: float = setting(
        0.5,
        flag=Flag("max-unaligned", "sentences with more interpolated words than this are flagged"),
    )
    min_silence_ms: int = setting(2000, flag=Flag("min-silence-ms"))
    silence_margin_ms: int = setting(  # ASR word ends are approximate: keep clear of speech
        500, flag=Flag("silence-margin-ms", "silence windows keep this far from any speech")
    )
    rev_query_position: str = setting(
        "both",
        flag=Flag(
            "rev-query-position",
            "where rev's query is asked: at the window's start (before; recipes call "
            "it rev-pre), at a drawn frame before the evidence (inline; rev-rev), or "
            "one sample of each (both, so a recipe picks without a second build)",
            choices=(*T.REV_QUERY_POSITIONS, "both"),
        ),
    )
    noise_phrases_per_video: int = 1
    pair_template: str = setting(
        "target",
        flag=Flag(
            "pair-template",
            "caption<->speech answers: the target text alone (target), or the seed's "
            "one-string form that repeats the question (seed; flagged repeats_prompt)",
            choices=tuple(T.PAIR_TEMPLATES),
        ),
    )

    def __post_init__(self) -> None:
        if self.timestamp_style not in T.TIMESTAMP_STYLES:
            raise ValueError(f"timestamp style must be one of {T.TIMESTAMP_STYLES}")
        if self.rev_query_position not in (*T.REV_QUERY_POSITIONS, "both"):
            raise ValueError(f"rev query position must be one of {T.REV_QUERY_POSITIONS} or both")
        if self.pair_template not in T.PAIR_TEMPLATES:
            raise ValueError(f"pair template must be one of {tuple(T.PAIR_TEMPLATES)}")
        if self.sample_fps <= 0 or self.window_ms <= 0:
            raise ValueError("sample fps and window must be positive")


def sample_id(task: str, video_id: str, start_ms: int, end_ms: int, variant: str, seed: int) -> str:
    key = f"{task}|{video_id}|{start_ms}|{end_ms}|{variant}|{T.GENERATOR_VERSION}|{seed}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def _rng(config: BuildConfig, video_id: str, task: str) -> random.Random:
    return random.Random(f"{config.seed}|{video_id}|{task}")


def overlap_ms(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def pair_sentences(video: VideoInfo) -> list[tuple[SentenceInfo, ClipInfo]]:
    """Each sentence with the clip it overlaps most (the earlier clip on a tie)."""
    pairs = []
    for s in video.sentences:
        best = max(
            video.clips,
            default=None,
            key=lambda c: (overlap_ms(s.start_ms, s.end_ms, c.start_ms, c.end_ms), -c.start_ms),
        )
        if best is not None and overlap_ms(s.start_ms, s.end_ms, best.start_ms, best.end_ms):
            pairs.append((s, best))
    return pairs


@dataclass(frozen=True)
class Evidence:
    """What a turn rests on: a sentence or clip id and its span on the video's timeline."""

    source_id: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Turn:
    """One turn, snapped to the sample's frame grid: the samples table's `turns` struct."""

    role: str
    kind: str
    text: str | None
    start_ms: int
    end_ms: int
    frame_start: int
    frame_end: int
    learn: bool
    evidence: tuple[Evidence, ...] = ()
    target_override: str | None = None

    def as_row(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "kind": self.kind,
            "text": self.text,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "frame_start": self.frame_start,
            "frame_end": self.frame_end,
            "learn": self.learn,
            "target_override": self.target_override,
            "evidence": [asdict(e) for e in self.evidence],
        }


@dataclass(frozen=True)
class Grounding:
    """A grounding sample's facts apart from its text: the samples table's `grounding`."""

    template_id: str
    timestamp_style: str
    span_start_ms: int
    span_end_ms: int
    asr: str | None
    caption: str | None
    sentence_id: str | None
    clip_id: str | None


class Sample:
    """One sample being built on its frame grid: turns go in time order through `user`,
    `assistant` and `ask` (frames in between are added as they pass), flags through `flag`,
    a grounding sample's facts through `ground`; `row` makes the samples-table row."""

    def __init__(
        self,
        task: str,
        video: VideoInfo,
        config: BuildConfig,
        start_ms: int,
        end_ms: int,
        variant: str | None = None,
    ) -> None:
        self.task, self.video, self.config, self.variant = task, video, config, variant
        self.grid = FrameGrid(config.sample_fps)
        self.start_ms = self.grid.floor(start_ms)
        # the last frame is the video's own end, not a grid point past it
        self.end_ms = max(min(self.grid.ceil(end_ms), video.duration_ms), self.start_ms)
        self._turns: list[Turn] = []
        self._flags: set[str] = set()
        self._grounding: Grounding | None = None
        self._cursor = self.start_ms

    @property
    def turns(self) -> tuple[Turn, ...]:
        return tuple(self._turns)

    def _add(
        self,
        role: str,
        kind: str,
        text: str | None,
        start: int,
        end: int,
        learn: bool,
        evidence: Sequence[Evidence] = (),
        target: str | None = None,
    ) -> None:
        g = self.grid
        snap = g.floor if role == "user" else g.ceil
        s, e = snap(start), max(snap(end), snap(start))
        self._turns.append(
            Turn(
                role,
                kind,
                text,
                s,
                e,
                g.frame_floor(s) if role == "user" else g.frame_ceil(s),
                g.frame_floor(e) if role == "user" else g.frame_ceil(e),
                learn,
                tuple(evidence),
                target,
            )
        )

    def frames_until(self, ms: int) -> None:
        """Frames from the last turn up to `ms` (nothing said over them)."""
        ms = min(ms, self.end_ms)
        if ms > self._cursor:
            self._add("user", "frames", None, self._cursor, ms, False)
            self._cursor = ms

    def user(
        self,
        kind: str,
        text: str,
        at: int,
        evidence: Sequence[Evidence] = (),
        until: int | None = None,
    ) -> None:
        """A user turn at `at`; spoken turns taken from the video last until `until`."""
        self.frames_until(self.grid.floor(at))
        self._add("user", kind, text, at, until if until is not None else at, False, evidence)

    def assistant(
        self,
        kind: str,
        text: str | None,
        at: int,
        until: int | None = None,
        evidence: Sequence[Evidence] = (),
        target: str | None = None,
    ) -> None:
        """An assistant turn at `at`. With `until`: a silence covers the frames up to it (the
        frames come first, then the target), an answer goes on while they stream."""
        self.frames_until(self.grid.ceil(at))
        if kind == "silence" and until is not None:
            self.frames_until(self.grid.ceil(until))
        self._add(
            "assistant", kind, text, at, until if until is not None else at, True, evidence, target
        )
        if until is not None:
            self.frames_until(self.grid.ceil(until))

    def ask(self, question: str, answer: str, evidence: Sequence[Evidence]) -> None:
        """The whole window first, then a question and its answer at its end (grounding)."""
        self.frames_until(self.end_ms)
        self._add("user", "question", question, self.end_ms, self.end_ms, False, evidence)
        self._add("assistant", "answer", answer, self.end_ms, self.end_ms, True, evidence)

    def flag(self, flags: Iterable[str]) -> None:
        self._flags.update(flags)

    def ground(self, grounding: Grounding) -> None:
        self._grounding = grounding

    def row(self, variant: str) -> dict[str, Any]:
        self.frames_until(self.end_ms)
        cfg, video = self.config, self.video
        user_text = [t.text for t in self._turns if t.role == "user" and t.text]
        answers = [t.text for t in self._turns if t.role == "assistant" and t.text]
        if self._grounding is None:
            self._flags |= flags_for(user_text + answers)
            if any(verbatim_overlap(u, a) for u in user_text for a in answers):
                self._flags.add("leak_overlap")
        family = "grounding" if self.task in GROUNDING_TASKS else "streaming"
        prov = {**video.provenance, "seed": cfg.seed}
        return {
            "sample_id": sample_id(
                self.task, video.video_id, self.start_ms, self.end_ms, variant, cfg.seed
            ),
            "task_family": family,
            "task": self.task,
            "variant": self.variant,
            "split": video.split,
            "video_id": video.video_id,
            "clip_start_ms": self.start_ms,
            "clip_end_ms": self.end_ms,
            "sample_fps_num": cfg.sample_fps.numerator,
            "sample_fps_den": cfg.sample_fps.denominator,
            "frame_snap": FRAME_SNAP,
            "turns": [t.as_row() for t in self._turns],
            "grounding": asdict(self._grounding) if self._grounding else None,
            "mixture": None,
            "quality_flags": sorted(self._flags),
            "provenance": prov,
        }


def _clip_flags(clip: ClipInfo, config: BuildConfig) -> set[str]:
    flags = set()
    length = clip.end_ms - clip.start_ms
    if length < config.min_clip_ms:
        flags.add("clip_too_short")
    if length > config.max_clip_ms:
        flags.add("clip_too_long")
    if not clip.caption:
        flags.add("no_caption")
    elif clip.caption_model == DRY_RUN_MODEL:
        flags.add("dry_run_caption")
    return flags


def _sentence_flags(s: SentenceInfo, config: BuildConfig) -> set[str]:
    return {"unaligned_words"} if s.interpolated_fraction > config.max_unaligned else set()


# -- grounding ---------------------------------------------------------------------------------


def _window_around(
    span: tuple[int, int], video: VideoInfo, config: BuildConfig, rng: random.Random
) -> tuple[int, int]:
    """A window of at most window_ms that holds the span, placed at random around it."""
    width = min(config.window_ms, video.duration_ms)
    lo = max(0, span[1] - width)
    hi = max(lo, min(span[0], video.duration_ms - width))
    start = rng.randint(lo, hi)
    return start, min(start + width, video.duration_ms)


def _grounding(
    video: VideoInfo,
    config: BuildConfig,
    rng: random.Random,
    *,
    task: str,
    template_id: str,
    span: tuple[int, int],
    sentence: SentenceInfo | None = None,
    clip: ClipInfo | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """One grounding sample: a window around `span`, asked about at its end. `target` is
    the text the answer must not be given away by (verbatim in the question)."""
    tpl = T.GROUNDING[template_id]
    w0, w1 = _window_around(span, video, config, rng)
    sample = Sample(task, video, config, w0, w1)
    stamp = T.render_span(
        span[0] - sample.start_ms,
        span[1] - sample.start_ms,
        config.timestamp_style,
        sample.end_ms - sample.start_ms,
    )
    asr = sentence.text if sentence else None
    caption = clip.caption if clip else None
    values = {"timestamp": stamp, "asr": asr, "caption": caption}
    evidence = [
        Evidence(x.sentence_id if isinstance(x, SentenceInfo) else x.clip_id, x.start_ms, x.end_ms)
        for x in (sentence, clip)
        if x is not None
    ]
    question, answer = tpl.user.format(**values), tpl.assistant.format(**values)
    sample.ask(question, answer, evidence)
    sample.ground(
        Grounding(
            template_id,
            config.timestamp_style,
            span[0],
            span[1],
            asr,
            caption,
            sentence.sentence_id if sentence else None,
            clip.clip_id if clip else None,
        )
    )
    sample.flag(flags_for(t for t in (asr, caption) if t))
    if sentence:
        sample.flag(_sentence_flags(sentence, config))
    if clip:
        sample.flag(_clip_flags(clip, config))
    if target and verbatim_overlap(question, target):
        sample.flag(["leak_overlap"])
    if repeats_prompt(question, answer):
        sample.flag(["repeats_prompt"])
    return sample.row("|".join([template_id, *(e.source_id for e in evidence)]))


def grounding_samples(video: VideoInfo, config: BuildConfig) -> Iterator[dict[str, Any]]:
    rng = _rng(config, video.video_id, "grounding")
    ask = functools.partial(_grounding, video, config, rng)
    for s in video.sentences:
        span = (s.start_ms, s.end_ms)
        yield ask(
            task="tsg_dialogue",
            template_id="tsg_dialogue/span-to-text-v1",
            span=span,
            sentence=s,
            target=s.text,
        )
        yield ask(
            task="tsg_dialogue", template_id="tsg_dialogue/text-to-span-v1", span=span, sentence=s
        )
    for c in video.clips:
        span = (c.start_ms, c.end_ms)
        yield ask(
            task="tsg_caption",
            template_id="tsg_caption/span-to-text-v1",
            span=span,
            clip=c,
            target=c.caption,
        )
        yield ask(task="tsg_caption", template_id="tsg_caption/text-to-span-v1", span=span, clip=c)
    version = T.PAIR_TEMPLATES[config.pair_template]
    for s, c in pair_sentences(video):
        span = (min(s.start_ms, c.start_ms), max(s.end_ms, c.end_ms))
        yield ask(
            task="caption_to_dialogue",
            template_id=f"caption_to_dialogue-{version}",
            span=span,
            sentence=s,
            clip=c,
            target=s.text,
        )
        yield ask(
            task="dialogue_to_caption",
            template_id=f"dialogue_to_caption-{version}",
            span=span,
            sentence=s,
            clip=c,
            target=c.caption,
        )


# -- streaming ---------------------------------------------------------------------------------


def _clip_ev(c: ClipInfo) -> tuple[Evidence, ...]:
    return (Evidence(c.clip_id, c.start_ms, c.end_ms),)


def narration_samples(video: VideoInfo, config: BuildConfig) -> Iterator[dict[str, Any]]:
    """Windows of whole clips; the assistant narrates each clip that starts at a cut."""
    rng = _rng(config, video.video_id, "narration")
    clips = list(video.clips)
    i = 0
    while i < len(clips):
        j = i
        while j + 1 < len(clips) and clips[j + 1].end_ms - clips[i].start_ms <= config.window_ms:
            j += 1
        window = clips[i : j + 1]
        i = j + 1
        boundaries = [c for c in window if c.scene_boundary]
        if not boundaries:
            continue
        sample = Sample("narration", video, config, window[0].start_ms, window[-1].end_ms)
        sample.user("instruction", rng.choice(T.NARRATION_INSTRUCTIONS), sample.start_ms)
        for c in boundaries:
            sample.flag(_clip_flags(c, config))
            sample.assistant("narration", c.caption, c.start_ms, evidence=_clip_ev(c))
        yield sample.row(boundaries[0].clip_id)


def _quiet_gaps(video: VideoInfo, margin: int, grid: FrameGrid) -> list[tuple[int, int]]:
    """Open stretches with no speech (give or take `margin`; sentences curation removed still
    count as speech) and no cut, edges included.

    A cut blocks from its own time to the grid frame where narration answers it (assistant
    times ceil), plus one ms either side: a silence that began on that frame would learn
    silence where the narration sample of the same video learns an answer."""
    speech = [(s.start_ms, s.end_ms) for s in video.sentences] + list(video.speech_spans)
    events = sorted(
        [(a - margin, b + margin) for a, b in speech]
        + [(c.start_ms - 1, grid.ceil(c.start_ms) + 1) for c in video.clips if c.scene_boundary]
    )
    gaps, t = [], 0
    for a, b in events:
        if a > t:
            gaps.append((t, a))
        t = max(t, b)
    if video.duration_ms > t:
        gaps.append((t, video.duration_ms))
    return gaps


def silence_samples(video: VideoInfo, config: BuildConfig) -> Iterator[dict[str, Any]]:
    rng = _rng(config, video.video_id, "silence")
    grid = FrameGrid(config.sample_fps)
    for a, b in _quiet_gaps(video, config.silence_margin_ms, grid):
        start, end = grid.ceil(a), grid.floor(min(b, a + config.window_ms))
        if end - start < config.min_silence_ms:
            continue
        sample = Sample("silence", video, config, start, end)
        sample.user("instruction", rng.choice(T.NARRATION_INSTRUCTIONS), start)
        sample.assistant("silence", None, start, until=end, target=T.SILENCE_TARGET)
        yield sample.row("gap")


def stop_samples(video: VideoInfo, config: BuildConfig) -> Iterator[dict[str, Any]]:
    """An answer about the clip starts; a few frames in, the user interrupts."""
    rng = _rng(config, video.video_id, "stop")
    grid = FrameGrid(config.sample_fps)
    for c in video.clips:
        if not c.caption:
            continue
        sample = Sample("stop", video, config, c.start_ms, c.end_ms)
        sample.flag(_clip_flags(c, config))
        t0 = sample.start_ms
        sample.user("question", rng.choice(T.ANSWER_QUESTIONS), t0)
        answer_at = grid.ceil(t0)
        cut_in = min(answer_at + round(rng.randint(1, 3) * 1000 / config.sample_fps), sample.end_ms)
        sample.assistant("answer", c.caption, answer_at, until=cut_in, evidence=_clip_ev(c))
        sample.user("interrupt", rng.choice(T.INTERRUPT_PHRASES), cut_in)
        sample.assistant("stop", None, cut_in, target=T.STOP_TARGET)
        yield sample.row(c.clip_id)


def noise_samples(video: VideoInfo, config: BuildConfig) -> Iterator[dict[str, Any]]:
    """Utterances that ask nothing: the video's own sentences, and phrases from a list."""
    rng = _rng(config, video.video_id, "noise")
    context = 2000
    for s in video.sentences:
        sample = Sample(
            "noise",
            video,
            config,
            max(0, s.start_ms - context),
            min(video.duration_ms, s.end_ms + context),
        )
        sample.flag(_sentence_flags(s, config))
        ev = [Evidence(s.sentence_id, s.start_ms, s.end_ms)]
        sample.user("noise", s.text, s.start_ms, evidence=ev, until=s.end_ms)
        sample.assistant("noise", None, s.end_ms, target=T.NOISE_TARGET)
        yield sample.row(s.sentence_id)
    for k in range(config.noise_phrases_per_video if video.duration_ms > 2 * context else 0):
        at = rng.randint(context, video.duration_ms - context)
        sample = Sample("noise", video, config, at - context, at + context)
        sample.user("noise", rng.choice(T.NOISE_PHRASES), at)
        sample.assistant("noise", None, at, target=T.NOISE_TARGET)
        yield sample.row(f"phrase{k}")


def rev_samples(video: VideoInfo, config: BuildConfig) -> Iterator[dict[str, Any]]:
    """The query comes first; frames stay silent until the evidence clip starts. Each
    position asked for is its own sample (`variant`): `before` asks at the window's start,
    `inline` at a drawn frame before the evidence."""
    positions = (
        T.REV_QUERY_POSITIONS
        if config.rev_query_position == "both"
        else (config.rev_query_position,)
    )
    grid = FrameGrid(config.sample_fps)
    clips = list(video.clips)
    for position in positions:
        # one generator per position: a build of one position draws what `both` draws
        rng = _rng(config, video.video_id, "rev" if position == "before" else "rev|inline")
        for k, c in enumerate(clips):
            if k == 0 or not c.scene_boundary or not c.caption:
                continue
            start = max(clips[k - 1].start_ms, c.start_ms - config.window_ms // 2)
            sample = Sample("rev", video, config, start, c.end_ms, variant=position)
            sample.flag(_clip_flags(c, config))
            evidence_at = grid.ceil(c.start_ms)
            if position == "before":
                asked = sample.start_ms
            else:
                last = max(sample.start_ms, grid.floor(evidence_at - 1))
                asked = grid.floor(rng.randint(sample.start_ms, last))
            query = T.REV_QUERY.format(event=T.event_phrase(c.caption))
            sample.user("query", query, asked, evidence=_clip_ev(c))
            if grid.ceil(asked) < evidence_at:
                sample.assistant("silence", None, asked, until=evidence_at, target=T.SILENCE_TARGET)
            sample.assistant("answer", rng.choice(T.REV_ANSWERS), c.start_ms, evidence=_clip_ev(c))
            yield sample.row(f"{c.clip_id}|{position}")


def contrast_samples(video: VideoInfo, config: BuildConfig) -> Iterator[dict[str, Any]]:
    """Noise and its contrast in one stream: a real question gets a real answer (the clip's
    caption), a remark that asks nothing (the video's own sentence, or a stock phrase) gets
    the noise target; which comes first is drawn. One sample per captioned clip."""
    rng = _rng(config, video.video_id, "contrast")
    grid = FrameGrid(config.sample_fps)
    for c in video.clips:
        if not c.caption or c.end_ms - c.start_ms < 2 * 1000:
            continue
        spoken = [s for s in video.sentences if c.start_ms <= s.start_ms < c.end_ms]
        remark = spoken[0].text if spoken else rng.choice(T.NOISE_PHRASES)
        ev = (
            [Evidence(spoken[0].sentence_id, spoken[0].start_ms, spoken[0].end_ms)]
            if spoken
            else []
        )
        sample = Sample("contrast", video, config, c.start_ms, c.end_ms)
        sample.flag(_clip_flags(c, config))
        first, second = sample.start_ms, grid.floor((sample.start_ms + sample.end_ms) // 2)
        question_at, remark_at = (first, second) if rng.random() < 0.5 else (second, first)
        for at in sorted((question_at, remark_at)):
            if at == question_at:
                sample.user("question", rng.choice(T.ANSWER_QUESTIONS), at, evidence=_clip_ev(c))
                sample.assistant("answer", c.caption, at, evidence=_clip_ev(c))
            else:
                sample.user("noise", remark, at, evidence=ev)
                sample.assistant("noise", None, at, target=T.NOISE_TARGET)
        yield sample.row(f"{c.clip_id}|contrast")


BUILDERS = {
    "grounding": grounding_samples,
    "narration": narration_samples,
    "silence": silence_samples,
    "stop": stop_samples,
    "noise": noise_samples,
    "rev": rev_samples,
    "contrast": contrast_samples,
}


def build_video(video: VideoInfo, config: BuildConfig) -> list[dict[str, Any]]:
    """Every sample of one video, flags included (filtering is the caller's choice)."""
    return [row for build in BUILDERS.values() for row in build(video, config)]
