"""Versioned text for samples: timestamp styles, grounding templates, streaming phrases and the
literal targets. Rows keep numbers and plain text apart; only these functions render."""

from __future__ import annotations

from dataclasses import dataclass

GENERATOR_VERSION = "build-v2"

# Literal targets (docs/tasks.md); exporters map them onto each format's structure.
STOP_TARGET = "<|im_end|>"  # stop: end the interrupted answer at once
NOISE_TARGET = "<|im_start|><|im_end|>"  # noise: a turn begun and ended at once, no answer
SILENCE_TARGET = "<|im_end|>"  # silence: the end token alone, nothing said
TURN_START = "<|im_start|>"  # the marker noise learns before the end token

TIMESTAMP_STYLES = ("seconds", "mmss", "relative")
PAIR_TEMPLATES = {"target": "v2", "seed": "v1"}  # caption <-> speech answer forms


def render_span(start_ms: int, end_ms: int, style: str, window_ms: int) -> str:
    """A span relative to the sample window's start, in one of the timestamp styles."""
    if style == "seconds":
        return f"{start_ms / 1000:.1f}-{end_ms / 1000:.1f} seconds"
    if style == "mmss":
        # whole seconds that cover the span: the start rounds down, the end up, so a
        # sentence under a second never becomes a zero-length span
        def clock(s: int) -> str:
            return f"{s // 60:02d}:{s % 60:02d}"

        return f"{clock(start_ms // 1000)}-{clock(-(-end_ms // 1000))}"
    if style == "relative":
        scale = 100 / max(window_ms, 1)
        return f"{round(start_ms * scale)}-{round(end_ms * scale)} (of 100)"
    raise ValueError(f"unknown timestamp style {style!r}; known: {TIMESTAMP_STYLES}")


@dataclass(frozen=True)
class GroundingTemplate:
    id: str
    user: str
    assistant: str


GROUNDING = {
    t.id: t
    for t in (
        GroundingTemplate(
            "tsg_dialogue/span-to-text-v1",
            "What is said during {timestamp} of the video?",
            "{timestamp}: {asr}",
        ),
        GroundingTemplate(
            "tsg_dialogue/text-to-span-v1",
            'When in the video does someone say "{asr}"?',
            "{timestamp}: {asr}",
        ),
        GroundingTemplate(
            "tsg_caption/span-to-text-v1",
            "What is shown during {timestamp} of the video?",
            "{timestamp}: {caption}",
        ),
        GroundingTemplate(
            "tsg_caption/text-to-span-v1",
            "When does the video show this: {caption}",
            "{timestamp}: {caption}",
        ),
        # v2: the instruction in the user turn, the target text alone as the answer
        GroundingTemplate(
            "caption_to_dialogue-v2",
            "When the description of the video clip is {caption}, what's the speech?",
            "{asr}",
        ),
        GroundingTemplate(
            "dialogue_to_caption-v2",
            "Please describe the video clip when someone is saying {asr}",
            "{caption}",
        ),
        # v1: the seed's literal one-string form, whose answer repeats the question (flagged
        # `repeats_prompt`); kept for reproducing the seed's data with --pair-template seed
        GroundingTemplate(
            "caption_to_dialogue-v1",
            "When the description of the video clip is {caption}, what's the speech?",
            "When the description of the video clip is {caption}, what's the speech: {asr}",
        ),
        GroundingTemplate(
            "dialogue_to_caption-v1",
            "Please describe the video clip when someone is saying {asr}",
            "Please describe the video clip when someone is saying {asr}: {caption}",
        ),
    )
}

NARRATION_INSTRUCTIONS = (
    "Narrate what happens in the video as it plays.",
    "Describe each new scene as soon as it appears.",
    "Tell me what is on screen whenever the scene changes.",
)
ANSWER_QUESTIONS = (
    "What is happening in the video right now?",
    "Can you describe what you see?",
    "What is on the screen?",
)
INTERRUPT_PHRASES = (
    "Sorry to interrupt.",
    "Sorry to interrupt, hold on.",
    "Wait, stop there.",
    "Hang on a moment.",
    "Okay, that's enough.",
)
NOISE_PHRASES = (
    "So, this video is about cooking.",
    "Hmm, interesting.",
    "I was just thinking out loud.",
    "Nice, that looks good.",
    "Oh well.",
)
REV_QUERY = "Please notify me when {event}."
# LiveCC-style live commentary: the video's own speech streamed word by word as the answer
COMMENTARY_INSTRUCTION = "Comment on the video as it plays, the way its speaker does."
REV_ANSWERS = ("It's happening now.", "There it is, it just started.", "Now.")
REV_QUERY_POSITIONS = ("before", "inline")  # build makes both unless told one
# the seed's arm names for them: rev-pre asks at the window's start, rev-rev mid-stream
REV_VARIANTS = {"pre": "before", "rev": "inline"}


def event_phrase(caption: str) -> str:
    """A caption as the event a user waits for: first sentence, lower-cased start, no stop."""
    first = caption.strip().split(". ")[0].rstrip(". ")
    return first[:1].lower() + first[1:]
