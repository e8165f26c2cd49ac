"""Deterministic row ids (docs/concepts.md): the same input always gets the same id."""


def sentence_id(video_id: str, index: int) -> str:
    return f"{video_id}:s{index}"


def clip_id(video_id: str, index: int) -> str:
    return f"{video_id}:c{index}"
