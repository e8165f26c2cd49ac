"""What each task is made of, in one table: which signal spoils it, what its answer is and how
it is learned. Curation, evaluation, the exporters and the builders read their task lists
from here, so a new task is one row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskFacts:
    family: str  # grounding (a question about the video) or streaming (turns over frames)
    speech_text: bool  # its question or answer is the transcript's words: on-screen
    # subtitles give it away
    picture: bool  # grounded in what the picture shows: a still picture leaves no answer
    speech_answer: bool  # evaluation compares its answer with what was said (WER)
    time_answer: bool  # the answer is a time span (temporal sentence grounding)
    streamed: bool  # learned on the frames: when to speak is the target


TASK_FACTS: dict[str, TaskFacts] = {
    #                          family        speech picture sp.ans time  streamed
    "tsg_dialogue": TaskFacts("grounding", True, False, True, True, False),
    "tsg_caption": TaskFacts("grounding", False, True, False, True, False),
    "caption_to_dialogue": TaskFacts("grounding", True, True, True, False, False),
    "dialogue_to_caption": TaskFacts("grounding", True, True, False, False, False),
    "narration": TaskFacts("streaming", False, True, False, False, True),
    "silence": TaskFacts("streaming", False, False, False, False, False),
    "stop": TaskFacts("streaming", False, True, False, False, False),
    "noise": TaskFacts("streaming", True, False, False, False, False),
    "rev": TaskFacts("streaming", False, True, False, False, True),
    "contrast": TaskFacts("streaming", False, False, False, False, False),
}


def tasks_where(fact: str, value: object = True) -> tuple[str, ...]:
    """The tasks whose `fact` is `value`, in the table's order."""
    return tuple(name for name, facts in TASK_FACTS.items() if getattr(facts, fact) == value)
